#include "program/drain.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace beacon::program {

void DrainOrExit(const std::function<bool(int drain_timeout_ms)>& stop_and_drain,
                 int drain_timeout_ms, int exit_code) {
  if (stop_and_drain(drain_timeout_ms)) return;
  spdlog::warn("calls still in progress after {} ms of draining: exiting without cleanup",
               drain_timeout_ms);
  spdlog::shutdown();  // flushes and drops every logger
  std::fflush(nullptr);
  std::_Exit(exit_code);
}

}  // namespace beacon::program
