// ParseFlags / ParseFlagsBeforeCommand: command line, then BEACON_* environment;
// strict numbers; unknown flags refused.
#include "program/flags.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace beacon::program {
namespace {

namespace po = boost::program_options;

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

struct TestFlags {
  std::string target = "default";
  int count = 5;
  bool verbose = false;
  po::options_description desc{"test"};
  po::variables_map vm;

  TestFlags() {
    desc.add_options()("help,h", "help")(
        "unit-target", po::value(&target)->default_value(target), "a string")(
        "unit-count,c", po::value(&count)->default_value(count), "a number")(
        "unit-verbose", po::bool_switch(&verbose), "a switch");
  }
  Status Parse(std::vector<const char*> args) {
    args.insert(args.begin(), "prog");
    return ParseFlags(static_cast<int>(args.size()), args.data(), desc, &vm);
  }
  Status ParseBeforeCommand(std::vector<const char*> args, int* command_index) {
    args.insert(args.begin(), "prog");
    return ParseFlagsBeforeCommand(static_cast<int>(args.size()), args.data(), desc, &vm,
                                   command_index);
  }
};

TEST(EnvironmentName, UppercasesAndPrefixes) {
  EXPECT_EQ(EnvironmentName("lease-ttl-ms"), "BEACON_LEASE_TTL_MS");
  EXPECT_EQ(EnvironmentName("lb"), "BEACON_LB");
}

TEST(ParseFlags, DefaultsWhenNothingIsGiven) {
  TestFlags f;
  ASSERT_TRUE(f.Parse({}).ok());
  EXPECT_EQ(f.target, "default");
  EXPECT_EQ(f.count, 5);
  EXPECT_FALSE(f.verbose);
}

TEST(ParseFlags, EnvironmentFillsFlagsAbsentFromTheCommandLine) {
  ScopedEnv target("BEACON_UNIT_TARGET", "from-env");
  ScopedEnv count("BEACON_UNIT_COUNT", "42");
  ScopedEnv verbose("BEACON_UNIT_VERBOSE", "1");
  TestFlags f;
  ASSERT_TRUE(f.Parse({}).ok());
  EXPECT_EQ(f.target, "from-env");
  EXPECT_EQ(f.count, 42);
  EXPECT_TRUE(f.verbose);
}

TEST(ParseFlags, CommandLineWinsOverEnvironment) {
  ScopedEnv target("BEACON_UNIT_TARGET", "from-env");
  ScopedEnv count("BEACON_UNIT_COUNT", "42");
  TestFlags f;
  Status s = f.Parse({"--unit-target", "from-argv", "--unit-count=7"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(f.target, "from-argv");
  EXPECT_EQ(f.count, 7);
}

TEST(ParseFlags, CommandLineWinsEvenOverABadEnvironmentValue) {
  ScopedEnv count("BEACON_UNIT_COUNT", "lots");
  TestFlags f;
  Status s = f.Parse({"--unit-count", "3"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(f.count, 3);
}

TEST(ParseFlags, EmptyEnvironmentValueCountsAsUnset) {
  ScopedEnv target("BEACON_UNIT_TARGET", "");
  ScopedEnv count("BEACON_UNIT_COUNT", "");
  TestFlags f;
  Status s = f.Parse({});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(f.target, "default");
  EXPECT_EQ(f.count, 5);
}

TEST(ParseFlags, OtherBeaconVariablesAreIgnored) {
  ScopedEnv other("BEACON_SOMETHING_ELSE", "x");
  TestFlags f;
  EXPECT_TRUE(f.Parse({}).ok());
}

TEST(ParseFlags, BadNumbersOnTheCommandLineAreRefusedNamingTheFlag) {
  for (const char* bad : {"5000x", "", "1e3", "99999999999", "five", "0x10"}) {
    TestFlags f;
    Status s = f.Parse({"--unit-count", bad});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("--unit-count"), std::string::npos)
        << bad << ": " << s.message();
  }
}

TEST(ParseFlags, BadNumberInTheEnvironmentIsRefusedNamingTheVariable) {
  ScopedEnv count("BEACON_UNIT_COUNT", "5000x");
  TestFlags f;
  Status s = f.Parse({});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("BEACON_UNIT_COUNT"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("5000x"), std::string::npos) << s.message();
}

TEST(ParseFlags, UnknownFlagIsRefusedNamingIt) {
  TestFlags f;
  Status s = f.Parse({"--no-such-flag"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--no-such-flag"), std::string::npos) << s.message();
}

TEST(ParseFlags, MissingValueIsRefused) {
  TestFlags f;
  Status s = f.Parse({"--unit-target"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--unit-target"), std::string::npos) << s.message();
}

TEST(ParseFlagsBeforeCommand, StopsAtTheCommandAndSkipsFlagValues) {
  TestFlags f;
  int command = -1;
  // "prime" (the value of --unit-target) is not the command; "run" is.
  Status s = f.ParseBeforeCommand(
      {"--unit-target", "prime", "--unit-verbose", "-c", "3", "run", "--unit-count", "9"},
      &command);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(command, 6);
  EXPECT_EQ(f.target, "prime");
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.count, 3);  // the command's own --unit-count 9 is left alone
}

TEST(ParseFlagsBeforeCommand, CommandWordsThatLookLikeFlagsAreNotParsed) {
  TestFlags f;
  int command = -1;
  Status s = f.ParseBeforeCommand({"--unit-count=4", "load", "--clients", "8"}, &command);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(command, 2);
  EXPECT_EQ(f.count, 4);
}

TEST(ParseFlagsBeforeCommand, NoCommandGivesArgc) {
  TestFlags f;
  int command = -1;
  ASSERT_TRUE(f.ParseBeforeCommand({"--unit-verbose"}, &command).ok());
  EXPECT_EQ(command, 2);
  ASSERT_TRUE(f.ParseBeforeCommand({}, &command).ok());
  EXPECT_EQ(command, 1);
}

TEST(ParseFlagsBeforeCommand, BadGlobalFlagsAreRefused) {
  int command = -1;
  {
    TestFlags f;
    Status s = f.ParseBeforeCommand({"--unit-count", "5000x", "run"}, &command);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("--unit-count"), std::string::npos) << s.message();
  }
  {
    TestFlags f;
    Status s = f.ParseBeforeCommand({"--bogus", "run"}, &command);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("--bogus"), std::string::npos) << s.message();
  }
}

TEST(ParseFlagsBeforeCommand, EnvironmentStillApplies) {
  ScopedEnv count("BEACON_UNIT_COUNT", "12");
  TestFlags f;
  int command = -1;
  ASSERT_TRUE(f.ParseBeforeCommand({"run"}, &command).ok());
  EXPECT_EQ(command, 1);
  EXPECT_EQ(f.count, 12);
}

}  // namespace
}  // namespace beacon::program
