#include "discovery/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/validation.h"

namespace beacon::discovery {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "beacon-server-snapshot";
constexpr int kFormatVersion = 1;

uint64_t Fnv1a64(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string ErrnoText() { return std::strerror(errno); }

Result<SnapshotContents> DecodeJson(const json& doc, const std::string& expected) {
  if (!doc.is_object()) return InvalidArgument("not a JSON object");
  if (doc.value("format", "") != kFormat) {
    return InvalidArgument(std::string("not a ") + kFormat + " file");
  }
  if (!doc.contains("format_version") || doc["format_version"] != kFormatVersion) {
    return InvalidArgument("format_version is not " + std::to_string(kFormatVersion));
  }
  SnapshotContents out;
  out.registries = doc.at("registries").get<std::string>();
  if (out.registries != expected) {
    return InvalidArgument("written for registries " + QuoteForMessage(out.registries) +
                           ", not " + QuoteForMessage(expected));
  }
  const json& services = doc.at("services");
  if (!services.is_object()) return InvalidArgument("services is not an object");
  if (services.size() > kMaxSnapshotServices) {
    return InvalidArgument("more than " + std::to_string(kMaxSnapshotServices) +
                           " services");
  }
  for (const auto& [name, entry] : services.items()) {
    if (Status s = ValidateName("service", name); !s.ok()) return s;
    SnapshotContents::Entry e;
    e.saved_at_ms = entry.at("saved_at_ms").get<int64_t>();
    const json& instances = entry.at("instances");
    if (!instances.is_array() || instances.empty() ||
        instances.size() > kMaxInstancesPerService) {
      return InvalidArgument("service " + name + " must list 1.." +
                             std::to_string(kMaxInstancesPerService) + " instances");
    }
    for (const json& i : instances) {
      InstanceInfo info;
      info.id = i.at("id").get<std::string>();
      info.host = i.at("host").get<std::string>();
      const int64_t port = i.at("port").get<int64_t>();
      if (Status s = ValidateName("instance id", info.id); !s.ok()) return s;
      if (Status s = ValidateHost("host", info.host); !s.ok()) return s;
      if (Status s = ValidatePort("port", port); !s.ok()) return s;
      info.port = static_cast<int>(port);
      e.instances.push_back(std::move(info));
    }
    out.services.emplace(name, std::move(e));
  }
  return out;
}

}  // namespace

std::string RegistriesKey(const std::vector<Endpoint>& registries) {
  std::vector<std::string> names;
  for (const Endpoint& ep : registries) names.push_back(ep.ToString());
  std::sort(names.begin(), names.end());
  std::string key;
  for (const std::string& n : names) key += (key.empty() ? "" : ",") + n;
  return key;
}

std::string SnapshotPath(const std::string& dir, const std::string& registries_key) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(Fnv1a64(registries_key)));
  return dir + "/servers-" + hex + ".json";
}

std::string EncodeSnapshot(const SnapshotContents& contents) {
  json services = json::object();
  for (const auto& [name, entry] : contents.services) {
    json instances = json::array();
    for (const InstanceInfo& i : entry.instances) {
      instances.push_back(json{{"id", i.id}, {"host", i.host}, {"port", i.port}});
    }
    services[name] = json{{"saved_at_ms", entry.saved_at_ms}, {"instances", instances}};
  }
  return json{{"format", kFormat},
              {"format_version", kFormatVersion},
              {"registries", contents.registries},
              {"services", services}}
             .dump(1) +
         "\n";
}

Result<SnapshotContents> DecodeSnapshot(const std::string& text,
                                        const std::string& expected_registries) {
  try {
    return DecodeJson(json::parse(text), expected_registries);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed: ") + e.what());
  }
}

Result<std::optional<std::string>> ReadSmallFile(const std::string& path,
                                                 size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return Unavailable("cannot open " + path + ": " + ErrnoText());
  }
  std::string text;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = ErrnoText();
      ::close(fd);
      return Unavailable("cannot read " + path + ": " + why);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return ResourceExhausted(path + " is larger than " + std::to_string(max_bytes) +
                               " bytes");
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(text));
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    const std::filesystem::path dir = target.parent_path();
    if (std::filesystem::create_directories(dir, ec)) {
      ::chmod(dir.c_str(), 0700);
    } else if (ec) {
      return Unavailable("cannot create " + dir.string() + ": " + ec.message());
    }
  }
  const std::string temp = path + ".tmp-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot create " + temp + ": " + ErrnoText());
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = ErrnoText();
      ::close(fd);
      ::unlink(temp.c_str());
      return Unavailable("cannot write " + temp + ": " + why);
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = ErrnoText();
    ::unlink(temp.c_str());
    return Unavailable("cannot replace " + path + ": " + why);
  }
  return Status::Ok();
}

SnapshotFile::SnapshotFile(std::string dir, std::string registries_key, Warn warn,
                           WallClock wall_clock_ms)
    : path_(SnapshotPath(dir, registries_key)),
      registries_key_(std::move(registries_key)),
      warn_(std::move(warn)),
      wall_clock_ms_(wall_clock_ms ? std::move(wall_clock_ms)
                                   : WallClock(WallClockMillis)) {
  contents_.registries = registries_key_;
}

void SnapshotFile::EnsureReadLocked() {
  if (read_) return;
  read_ = true;
  auto text = ReadSmallFile(path_, kMaxSnapshotBytes);
  if (text.ok() && !text->has_value()) return;  // no snapshot yet
  Status problem = text.status();
  if (text.ok()) {
    auto decoded = DecodeSnapshot(**text, registries_key_);
    if (decoded.ok()) {
      contents_ = *std::move(decoded);
      return;
    }
    problem = decoded.status();
  }
  if (warn_) {
    warn_("ignoring the server snapshot " + path_ + ": " + problem.message());
  }
}

void SnapshotFile::Save(const std::string& service,
                        const std::vector<InstanceInfo>& instances) {
  if (instances.empty()) return;
  MutexLock lock(mu_);
  EnsureReadLocked();
  const int64_t now = wall_clock_ms_();
  if (contents_.services.count(service) == 0 &&
      contents_.services.size() >= kMaxSnapshotServices) {
    return;  // the file keeps the services it has
  }
  SnapshotContents::Entry& entry = contents_.services[service];
  std::vector<InstanceInfo> stored;
  for (const InstanceInfo& i : instances)
    stored.push_back(InstanceInfo{i.id, i.host, i.port, {}});
  if (entry.instances == stored && now - entry.saved_at_ms < kRewriteAfterMs) return;
  entry.instances = std::move(stored);
  entry.saved_at_ms = now;
  const std::string text = EncodeSnapshot(contents_);
  Status written = text.size() > kMaxSnapshotBytes
                       ? ResourceExhausted("it would be larger than " +
                                           std::to_string(kMaxSnapshotBytes) + " bytes")
                       : WriteFileAtomically(path_, text);
  if (!written.ok() && !warned_write_ && warn_) {
    warned_write_ = true;
    warn_("cannot save the server snapshot " + path_ + ": " + written.message());
  }
}

std::optional<SavedList> SnapshotFile::Load(const std::string& service) {
  MutexLock lock(mu_);
  EnsureReadLocked();
  auto it = contents_.services.find(service);
  if (it == contents_.services.end() || it->second.instances.empty()) return std::nullopt;
  SavedList out;
  out.instances = it->second.instances;
  out.age_ms = std::max<int64_t>(0, wall_clock_ms_() - it->second.saved_at_ms);
  return out;
}

}  // namespace beacon::discovery
