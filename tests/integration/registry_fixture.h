// Starts a real registry_svc on a free loopback port for one test and stops it
// afterwards (SIGKILL in ChildProcess's destructor if the test failed early).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace beacon::testing {

class RegistryProcess {
 public:
  // Starts registry_svc --listen 127.0.0.1:<port> (0: any free port) with
  // extra flags; fails the current test when it does not come up in 10 s.
  RegistryProcess(const TempDir& dir, const std::vector<std::string>& extra_flags = {},
                  int port = 0, const std::string& name = "registry");
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return *process_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace beacon::testing
