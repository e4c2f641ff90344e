// Replays a fuzz target's seeds and every input that once crashed it
// (fuzz/corpus/<target>, fuzz/regressions/<target>) through the target,
// built with the normal compiler and flags. A crash, an abort or a sanitizer
// report fails the test, so a bug a fuzzer found stays fixed.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> InputDirs() {
  std::vector<std::string> dirs;
  std::stringstream list(BEACON_FUZZ_INPUT_DIRS);  // ';'-separated
  for (std::string dir; std::getline(list, dir, ';');) dirs.push_back(dir);
  return dirs;
}

TEST(FuzzReplay, EverySeedAndRegressionInputRunsClean) {
  int replayed = 0;
  for (const auto& dir : InputDirs()) {
    if (!std::filesystem::is_directory(dir)) continue;  // no regressions yet
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size());
      ++replayed;
    }
  }
  std::printf("replayed %d inputs\n", replayed);
  EXPECT_GT(replayed, 0) << "no seeds found in " << BEACON_FUZZ_INPUT_DIRS;
}

}  // namespace
