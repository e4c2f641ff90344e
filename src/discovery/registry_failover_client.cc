#include "discovery/registry_failover_client.h"

#include <utility>

namespace beacon::discovery {

Result<std::unique_ptr<RegistryFailoverClient>> RegistryFailoverClient::Create(
    std::vector<std::shared_ptr<RegistryClient>> registries, size_t start_index) {
  if (registries.empty()) return InvalidArgument("at least one registry is needed");
  for (const auto& r : registries) {
    if (!r) return InvalidArgument("registry must not be null");
  }
  if (start_index >= registries.size()) {
    return InvalidArgument("start_index must be below " +
                           std::to_string(registries.size()) + ", got " +
                           std::to_string(start_index));
  }
  return std::unique_ptr<RegistryFailoverClient>(
      new RegistryFailoverClient(std::move(registries), start_index));
}

RegistryFailoverClient::RegistryFailoverClient(
    std::vector<std::shared_ptr<RegistryClient>> registries, size_t start_index)
    : registries_(std::move(registries)), current_(start_index) {}

Result<Membership> RegistryFailoverClient::Lookup(const std::string& service) {
  std::vector<Status> errors;
  for (size_t attempt = 0; attempt < registries_.size(); ++attempt) {
    const size_t i = current_.load();
    Result<Membership> answer = registries_[i]->Lookup(service);
    if (answer.ok()) return Translate(service, i, *std::move(answer));
    if (answer.status().code() != StatusCode::kUnavailable) return answer.status();
    errors.push_back(answer.status());
    MoveOff(i);
  }
  return AllFailed(errors);
}

Result<Membership> RegistryFailoverClient::Watch(const std::string& service,
                                                 int64_t known_version, int max_wait_ms) {
  const uint64_t generation = cancel_generation_.load();
  std::vector<Status> errors;
  for (size_t attempt = 0; attempt < registries_.size(); ++attempt) {
    if (cancel_generation_.load() != generation) return Unavailable("watch cancelled");
    const size_t i = current_.load();
    // A version from another registry means nothing to this one: ask it
    // for its list first (the caller adopts it and watches again).
    const std::optional<int64_t> on_registry = VersionOn(service, i, known_version);
    Result<Membership> answer =
        on_registry ? registries_[i]->Watch(service, *on_registry, max_wait_ms)
                    : registries_[i]->Lookup(service);
    if (answer.ok()) return Translate(service, i, *std::move(answer));
    if (cancel_generation_.load() != generation) return answer.status();
    if (answer.status().code() != StatusCode::kUnavailable) return answer.status();
    // Cancelled because a Lookup already moved off this registry: go on
    // with the next one without counting it as a failure of this one.
    if (current_.load() != i) continue;
    errors.push_back(answer.status());
    MoveOff(i);
  }
  if (errors.empty())
    return Unavailable("registry " + CurrentAddress() + ": watch moved");
  return AllFailed(errors);
}

void RegistryFailoverClient::CancelWatches() {
  ++cancel_generation_;
  for (const auto& r : registries_) r->CancelWatches();
}

std::string RegistryFailoverClient::Address() const {
  std::string out;
  for (const auto& r : registries_) {
    if (!out.empty()) out += ',';
    out += r->Address();
  }
  return out;
}

std::string RegistryFailoverClient::CurrentAddress() const {
  return registries_[current_.load()]->Address();
}

std::string RegistryFailoverClient::SourceOf(const std::string& service) const {
  MutexLock lock(mu_);
  auto it = versions_.find(service);
  return it == versions_.end() ? "" : registries_[it->second.registry]->Address();
}

Membership RegistryFailoverClient::Translate(const std::string& service, size_t i,
                                             Membership m) {
  MutexLock lock(mu_);
  auto [it, added] = versions_.try_emplace(service);
  Versions& v = it->second;
  if (added || v.registry != i || v.registry_version != m.version) {
    v.registry = i;
    v.registry_version = m.version;
    ++v.local_version;
  }
  m.version = v.local_version;
  return m;
}

std::optional<int64_t> RegistryFailoverClient::VersionOn(const std::string& service,
                                                         size_t i,
                                                         int64_t known_version) const {
  MutexLock lock(mu_);
  auto it = versions_.find(service);
  if (it == versions_.end() || it->second.registry != i ||
      it->second.local_version != known_version) {
    return std::nullopt;
  }
  return it->second.registry_version;
}

void RegistryFailoverClient::MoveOff(size_t i) {
  if (registries_.size() == 1) return;
  size_t expected = i;
  if (current_.compare_exchange_strong(expected, (i + 1) % registries_.size())) {
    ++switches_;
    registries_[i]->CancelWatches();
  }
}

Status RegistryFailoverClient::AllFailed(const std::vector<Status>& errors) const {
  if (errors.size() == 1) return errors[0];
  std::string message;
  for (const Status& e : errors) {
    if (!message.empty()) message += "; ";
    message += e.message();
  }
  return Unavailable(message);
}

}  // namespace beacon::discovery
