// The on-disk server snapshot: what one session saves, a later one reads;
// anything wrong with the file is ignored with one warning, never a crash.
#include "discovery/snapshot_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/process.h"

namespace beacon::discovery {
namespace {

using beacon::testing::TempDir;

const std::vector<Endpoint> kRegistries = {{"127.0.0.1", 9091}, {"127.0.0.1", 9090}};

InstanceInfo Server(const std::string& id, int port) {
  return InstanceInfo{id, "127.0.0.1", port, {}};
}

class SnapshotFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<SnapshotFile> Open(
      const std::vector<Endpoint>& registries = kRegistries) {
    return std::make_unique<SnapshotFile>(
        dir_.path() + "/cache", RegistriesKey(registries),
        [this](const std::string& w) { warnings_.push_back(w); },
        [this] { return now_ms_; });
  }
  void WriteRaw(const std::string& text) {
    std::filesystem::create_directories(dir_.path() + "/cache");
    std::ofstream(Open()->path(), std::ios::binary) << text;
  }
  size_t FilesInCache() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/cache")) {
      (void)e;
      ++n;
    }
    return n;
  }

  TempDir dir_;
  int64_t now_ms_ = 1'700'000'000'000;
  std::vector<std::string> warnings_;
};

TEST_F(SnapshotFileTest, ANewSessionReadsWhatAnEarlierOneSavedWithItsAge) {
  Open()->Save("prime", {Server("p1", 7001), Server("p2", 7002)});
  now_ms_ += 4500;
  auto saved = Open()->Load("prime");
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->instances,
            (std::vector<InstanceInfo>{Server("p1", 7001), Server("p2", 7002)}));
  EXPECT_EQ(saved->age_ms, 4500);
  EXPECT_FALSE(Open()->Load("voting").has_value());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(SnapshotFileTest, RegistryOrderDoesNotMatterButTheSetDoes) {
  Open()->Save("prime", {Server("p1", 7001)});
  EXPECT_TRUE(Open({kRegistries[1], kRegistries[0]})->Load("prime").has_value());
  EXPECT_FALSE(Open({kRegistries[0]})->Load("prime").has_value());
}

TEST_F(SnapshotFileTest, MissingFileIsEmptyWithoutAWarning) {
  EXPECT_FALSE(Open()->Load("prime").has_value());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(SnapshotFileTest, CorruptFileIsIgnoredWithOneWarningAndReplacedByTheNextSave) {
  WriteRaw("{\"format\": \"beacon-server-snap");
  auto file = Open();
  EXPECT_FALSE(file->Load("prime").has_value());
  EXPECT_FALSE(file->Load("voting").has_value());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("ignoring the server snapshot"), std::string::npos);
  file->Save("prime", {Server("p1", 7001)});
  EXPECT_TRUE(Open()->Load("prime").has_value());
  EXPECT_EQ(warnings_.size(), 1u);
}

TEST_F(SnapshotFileTest, FileWrittenForOtherRegistriesIsIgnored) {
  SnapshotContents other;
  other.registries = "10.0.0.1:9090";
  other.services["prime"] = {now_ms_, {Server("p1", 7001)}};
  WriteRaw(EncodeSnapshot(other));
  EXPECT_FALSE(Open()->Load("prime").has_value());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("written for registries"), std::string::npos)
      << warnings_[0];
}

TEST_F(SnapshotFileTest, OversizedFileIsIgnored) {
  WriteRaw(std::string(kMaxSnapshotBytes + 1, ' '));
  EXPECT_FALSE(Open()->Load("prime").has_value());
  EXPECT_EQ(warnings_.size(), 1u);
}

TEST_F(SnapshotFileTest, EntriesThatWouldNotPassValidationRejectTheFile) {
  const std::string key = RegistriesKey(kRegistries);
  const auto doc = [&](const std::string& instance) {
    return R"({"format":"beacon-server-snapshot","format_version":1,"registries":")" +
           key + R"(","services":{"prime":{"saved_at_ms":1,"instances":[)" + instance +
           "]}}}";
  };
  EXPECT_TRUE(DecodeSnapshot(doc(R"({"id":"p1","host":"h","port":1})"), key).ok());
  for (const std::string bad :
       {R"({"id":"p1","host":"h","port":0})", R"({"id":"p1","host":"h","port":70000})",
        R"({"id":"p 1","host":"h","port":1})", R"({"id":"p1","host":"a b","port":1})",
        R"({"id":"p1","host":"h","port":"1"})", R"({"id":"p1","host":"h"})", ""}) {
    auto decoded = DecodeSnapshot(doc(bad), key);
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(DecodeSnapshot("[]", key).ok());
  EXPECT_FALSE(
      DecodeSnapshot(R"({"format":"beacon-server-snapshot","format_version":2})", key)
          .ok());
}

TEST_F(SnapshotFileTest, SavesAtomicallyLeavingNoTemporaryFilesAndOnlyAddresses) {
  auto file = Open();
  InstanceInfo with_metadata = Server("p1", 7001);
  with_metadata.metadata["token"] = "secret";
  file->Save("prime", {with_metadata});
  file->Save("voting", {Server("v1", 7101)});
  EXPECT_EQ(FilesInCache(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(file->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = ReadSmallFile(file->path(), kMaxSnapshotBytes);
  ASSERT_TRUE(text.ok() && text->has_value());
  EXPECT_EQ((*text)->find("secret"), std::string::npos);
  EXPECT_EQ(Open()->Load("prime")->instances.at(0).metadata.size(), 0u);
}

TEST_F(SnapshotFileTest, UnchangedListIsRewrittenOnlyOnceItHasAged) {
  auto file = Open();
  file->Save("prime", {Server("p1", 7001)});
  std::filesystem::remove(file->path());
  now_ms_ += SnapshotFile::kRewriteAfterMs - 1;
  file->Save("prime", {Server("p1", 7001)});
  EXPECT_FALSE(std::filesystem::exists(file->path()));
  now_ms_ += 1;
  file->Save("prime", {Server("p1", 7001)});
  EXPECT_TRUE(std::filesystem::exists(file->path()));
  EXPECT_EQ(Open()->Load("prime")->age_ms, 0);
}

TEST_F(SnapshotFileTest, UnwritableDirectoryWarnsOnceAndNeverThrows) {
  std::ofstream(dir_.path() + "/cache") << "a file where the directory should be";
  auto file = Open();
  file->Save("prime", {Server("p1", 7001)});
  file->Save("prime", {Server("p2", 7002)});
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("cannot save the server snapshot"), std::string::npos);
}

TEST_F(SnapshotFileTest, EmptyListIsNotSaved) {
  auto file = Open();
  file->Save("prime", {});
  EXPECT_FALSE(std::filesystem::exists(file->path()));
}

}  // namespace
}  // namespace beacon::discovery
