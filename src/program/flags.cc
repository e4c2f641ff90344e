#include "program/flags.h"

#include "program/logging.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <set>

namespace po = boost::program_options;

namespace beacon::program {

std::string EnvironmentName(const std::string& flag) {
  std::string out = "BEACON_";
  for (char c : flag) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Status ParseFlags(int argc, const char* const* argv, const po::options_description& desc,
                  po::variables_map* vm) {
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), *vm);
    std::set<std::string> env_names;
    for (const auto& opt : desc.options()) env_names.insert(EnvironmentName(opt->long_name()));
    // Map BEACON_FOO_BAR back to "foo-bar" for declared flags only; other
    // BEACON_* variables (meant for other programs) are ignored.
    po::store(po::parse_environment(desc,
                                    [&desc](const std::string& env) -> std::string {
                                      for (const auto& opt : desc.options()) {
                                        if (opt->long_name() == "help") continue;
                                        if (EnvironmentName(opt->long_name()) == env) {
                                          return opt->long_name();
                                        }
                                      }
                                      return "";
                                    }),
              *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    return InvalidArgument(e.what());
  }
  return Status::Ok();
}

std::optional<int> StartProgram(const std::string& program, int argc, const char* const* argv,
                                const po::options_description& desc,
                                const std::string& log_level) {
  constexpr int kExitUsage = 2;
  po::variables_map vm;
  if (Status s = ParseFlags(argc, argv, desc, &vm); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n(see " << program << " --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n" << EnvironmentHelp(desc);
    return 0;
  }
  if (Status s = SetUpLogging(program, log_level); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

std::string EnvironmentHelp(const po::options_description& desc) {
  std::string out = "Every flag can also be set in the environment:\n";
  for (const auto& opt : desc.options()) {
    if (opt->long_name() == "help") continue;
    out += "  --" + opt->long_name() + "  <->  " + EnvironmentName(opt->long_name()) + "\n";
  }
  return out;
}

}  // namespace beacon::program
