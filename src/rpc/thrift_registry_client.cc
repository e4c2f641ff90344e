#include "rpc/thrift_registry_client.h"

#include "rpc/membership_conversion.h"

namespace beacon::rpc {

ThriftRegistryClient::ThriftRegistryClient(Endpoint registry, ClientOptions options,
                                           std::string token)
    : registry_(std::move(registry)), options_(options), token_(std::move(token)) {}

ThriftRegistryClient::~ThriftRegistryClient() { CancelWatches(); }

template <class T, class F>
Result<T> ThriftRegistryClient::CallShared(F&& call) {
  const uint64_t failures_before = failures_.load();
  MutexLock lock(mu_);
  if (failures_.load() != failures_before) {
    return Unavailable("registry " + registry_.ToString() +
                       " unreachable (a call that went before this one failed)");
  }
  const auto unreachable = [&](const std::string& why) {
    ++failures_;
    return Unavailable("registry " + registry_.ToString() + " unreachable: " + why);
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = channel_ != nullptr;
    if (!channel_) {
      auto ch = Channel::Open(registry_, options_);
      if (!ch.ok()) return unreachable(ch.status().message());
      channel_ = std::move(ch).value();
      client_ = std::make_unique<idl::RegistryClient>(channel_->protocol());
    }
    auto out = InvokeRpc<T, idl::RegistryError>(registry_, [&] {
      mu_.AssertHeld();  // the lambda runs here, under the lock above
      return call(*client_);
    });
    if (!out.transport_failure) return std::move(out.result);
    client_.reset();
    channel_.reset();
    // Only a connection the registry may have closed while idle earns a
    // second try: a timeout says the registry itself is slow or hung.
    if (!reused || out.timed_out) return unreachable(out.result.status().message());
  }
  return unreachable("the connection broke twice");
}

Result<Membership> ThriftRegistryClient::Lookup(const std::string& service) {
  auto r = CallShared<idl::Membership>([&](idl::RegistryClient& c) {
    idl::Membership m;
    c.lookup(m, service);
    return m;
  });
  if (!r.ok()) return r.status();
  return FromIdl(*r);
}

Result<Membership> ThriftRegistryClient::Watch(const std::string& service,
                                               int64_t known_version, int max_wait_ms) {
  auto ch = Channel::Open(registry_, options_);
  if (!ch.ok()) {
    return Unavailable("registry " + registry_.ToString() +
                       " unreachable: " + ch.status().message());
  }
  std::unique_ptr<Channel> channel = std::move(ch).value();
  channel->SetCallTimeout(max_wait_ms + options_.call_timeout_ms);
  {
    MutexLock lock(watch_mu_);
    active_watches_.insert(channel.get());
  }
  idl::RegistryClient client(channel->protocol());
  auto out = InvokeRpc<idl::Membership, idl::RegistryError>(registry_, [&] {
    idl::Membership m;
    client.watch(m, service, known_version, max_wait_ms);
    return m;
  });
  {
    MutexLock lock(watch_mu_);
    active_watches_.erase(channel.get());
  }
  if (!out.result.ok()) return out.result.status();
  return FromIdl(*out.result);
}

void ThriftRegistryClient::CancelWatches() {
  MutexLock lock(watch_mu_);
  for (Channel* ch : active_watches_) ch->Abort();
}

Result<idl::Lease> ThriftRegistryClient::Register(const std::string& service,
                                                  const InstanceInfo& instance,
                                                  const std::string& lease_id) {
  const idl::Instance in = ToIdl(instance);
  return CallShared<idl::Lease>([&](idl::RegistryClient& c) {
    idl::Lease lease;
    c.registerInstance(lease, service, in, lease_id, token_);
    return lease;
  });
}

Result<idl::Lease> ThriftRegistryClient::Heartbeat(const std::string& service,
                                                   const std::string& instance_id,
                                                   const std::string& lease_id) {
  return CallShared<idl::Lease>([&](idl::RegistryClient& c) {
    idl::Lease lease;
    c.heartbeat(lease, service, instance_id, lease_id, token_);
    return lease;
  });
}

Status ThriftRegistryClient::Deregister(const std::string& service,
                                        const std::string& instance_id,
                                        const std::string& lease_id) {
  auto r = CallShared<bool>([&](idl::RegistryClient& c) {
    c.deregister(service, instance_id, lease_id, token_);
    return true;
  });
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<idl::ServiceSummary>> ThriftRegistryClient::ListServices() {
  return CallShared<std::vector<idl::ServiceSummary>>([&](idl::RegistryClient& c) {
    std::vector<idl::ServiceSummary> out;
    c.listServices(out);
    return out;
  });
}

Result<idl::RegistryStats> ThriftRegistryClient::Stats() {
  return CallShared<idl::RegistryStats>([&](idl::RegistryClient& c) {
    idl::RegistryStats out;
    c.stats(out);
    return out;
  });
}

Status ThriftRegistryClient::Ping() {
  auto r = CallShared<bool>([&](idl::RegistryClient& c) {
    c.ping();
    return true;
  });
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace beacon::rpc
