#include "registration/registration_set.h"

namespace beacon::registration {

RegistrationSet::RegistrationSet(const std::vector<LeaseClient*>& registries,
                                 const InstanceInfo& self,
                                 const std::vector<std::string>& services,
                                 const Clock& clock)
    : clock_(clock) {
  for (LeaseClient* registry : registries) {
    registrations_.push_back(
        std::make_unique<Registration>(*registry, self, services, clock));
  }
}

RegistrationSet::~RegistrationSet() {
  Stop(0);
  for (std::thread& t : stoppers_) t.join();
}

void RegistrationSet::Start() {
  for (auto& r : registrations_) r->Start();
}

size_t RegistrationSet::Stop(int64_t budget_ms) {
  if (stop_called_) return stopped_in_time_;
  stop_called_ = true;
  const int64_t deadline = clock_.NowMicros() + budget_ms * 1000;
  for (auto& r : registrations_) {
    Registration* registration = r.get();
    stoppers_.emplace_back([this, registration] {
      registration->Stop();
      MutexLock lock(mu_);
      ++stopped_;
      stopped_cv_.NotifyAll();
    });
  }
  MutexLock lock(mu_);
  mu_.WithUniqueLock([&](std::unique_lock<std::mutex>& held) {
    return clock_.WaitUntil(held, stopped_cv_.native(), deadline, [this] {
      mu_.AssertHeld();
      return stopped_ == registrations_.size();
    });
  });
  stopped_in_time_ = stopped_;
  return stopped_in_time_;
}

std::vector<int> RegistrationSet::registered_counts() const {
  std::vector<int> out;
  for (const auto& r : registrations_) out.push_back(r->registered_count());
  return out;
}

}  // namespace beacon::registration
