#include "registry_fixture.h"

#include <unistd.h>

namespace beacon::testing {

RegistryProcess::RegistryProcess(const TempDir& dir,
                                 const std::vector<std::string>& extra_flags, int port,
                                 const std::string& name) {
  const std::string port_file = dir.File(name + ".port");
  ::unlink(port_file.c_str());
  std::vector<std::string> args = {"--listen",    "127.0.0.1:" + std::to_string(port),
                                   "--port-file", port_file,
                                   "--log-level", "debug"};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  process_ = ChildProcess::Start(BEACON_REGISTRY_SVC, args, dir.File(name + ".log"));
  if (!process_) {
    ADD_FAILURE() << "cannot start registry_svc";
    return;
  }
  port_ = ReadPortFile(port_file, 10000);
  if (port_ == 0) ADD_FAILURE() << "registry_svc did not come up:\n" << process_->Log();
}

}  // namespace beacon::testing
