#include "client/failover.h"

#include <vector>

namespace beacon::client {

Status Failover::Run(const std::string& service, ServerCall& call,
                     std::string* served_by) {
  if (served_by != nullptr) served_by->clear();
  std::vector<std::string> failed;
  Status last = Unavailable("no attempt made");
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Result<discovery::PickedServer> server = cache_.PickServer(service, failed);
    // On the retry, "no other server" reports the failure that caused it.
    if (!server.ok()) return attempt == 0 ? server.status() : last;
    const int64_t start = clock_.NowMicros();
    AttemptOutcome out = call.Attempt(**server);
    if (!out.transport_failure) {
      cache_.ReportSuccess(*server, clock_.NowMicros() - start);
      if (served_by != nullptr) *served_by = (*server)->id;
      return std::move(out.status);
    }
    cache_.ReportTransportFailure(*server);
    last = Unavailable("server " + (*server)->id + " failed: " + out.status.message());
    failed.push_back((*server)->id);
    if (attempt == 0) ++retries_;
  }
  return last;
}

}  // namespace beacon::client
