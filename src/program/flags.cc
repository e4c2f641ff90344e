#include "program/flags.h"

#include <cctype>
#include <cstdlib>
#include <iostream>

#include "program/logging.h"

namespace po = boost::program_options;

namespace beacon::program {

std::string EnvironmentName(const std::string& flag) {
  std::string out = "BEACON_";
  for (char c : flag) {
    out +=
        c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Status ParseFlags(int argc, const char* const* argv, const po::options_description& desc,
                  po::variables_map* vm) {
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), *vm);
  } catch (const po::error& e) {
    return InvalidArgument(e.what());
  }
  // Map BEACON_FOO_BAR back to "foo-bar" for declared flags only; other
  // BEACON_* variables (meant for other programs) and empty ones are ignored.
  std::string variable;  // the one being parsed, for the error message
  try {
    po::store(
        po::parse_environment(desc,
                              [&desc, &variable](const std::string& env) -> std::string {
                                const char* value = std::getenv(env.c_str());
                                if (value == nullptr || *value == '\0') return "";
                                for (const auto& opt : desc.options()) {
                                  if (opt->long_name() == "help") continue;
                                  if (EnvironmentName(opt->long_name()) == env) {
                                    variable = env;
                                    return opt->long_name();
                                  }
                                }
                                return "";
                              }),
        *vm);
  } catch (const po::error& e) {
    return InvalidArgument(std::string(e.what()) + " (from the environment variable " +
                           variable + ")");
  }
  try {
    po::notify(*vm);
  } catch (const po::error& e) {
    return InvalidArgument(e.what());
  }
  return Status::Ok();
}

Status ParseFlagsBeforeCommand(int argc, const char* const* argv,
                               const po::options_description& desc, po::variables_map* vm,
                               int* command_index) {
  int i = 1;
  while (i < argc) {
    const std::string word = argv[i];
    if (word.size() < 2 || word[0] != '-') break;  // the command ("-" is one too)
    ++i;
    if (word.find('=') != std::string::npos) continue;  // --flag=value
    // "--flag VALUE": the next word is the flag's value, not the command.
    // Unknown flags take no value here; ParseFlags reports them.
    const bool is_long = word.compare(0, 2, "--") == 0;
    const po::option_description* opt =
        is_long ? desc.find_nothrow(word.substr(2), /*approx=*/false)
                : desc.find_nothrow(word.substr(0, 2), /*approx=*/false);  // "-c"
    if (opt != nullptr && opt->semantic()->max_tokens() > 0 &&
        (is_long || word.size() == 2)) {
      ++i;
    }
  }
  *command_index = i < argc ? i : argc;
  return ParseFlags(*command_index, argv, desc, vm);
}

std::optional<int> StartProgram(const std::string& program, int argc,
                                const char* const* argv,
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
    out +=
        "  --" + opt->long_name() + "  <->  " + EnvironmentName(opt->long_name()) + "\n";
  }
  return out;
}

}  // namespace beacon::program
