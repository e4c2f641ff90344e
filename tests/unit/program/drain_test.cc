// DrainOrExit: returns after a drain that finished; otherwise ends the
// process with the given code without running exit handlers or unwinding.
#include "program/drain.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "program/logging.h"

namespace beacon::program {
namespace {

TEST(DrainOrExit, ReturnsWhenTheDrainFinishesAndPassesTheDeadline) {
  int asked_ms = -1;
  DrainOrExit(
      [&](int ms) {
        asked_ms = ms;
        return true;
      },
      1234, 1);
  EXPECT_EQ(asked_ms, 1234);
}

// Runs in the death-test child: an exit handler or a destructor running would
// change the exit code to 9, so only std::_Exit(7) gives 7.
void FailedDrain() {
  (void)SetUpLogging("drain_test", "info");  // to stderr, where the test looks
  std::atexit([] { std::_Exit(9); });
  struct Sentinel {
    ~Sentinel() { std::_Exit(9); }
  } sentinel;
  DrainOrExit([](int) { return false; }, 50, 7);
}

TEST(DrainOrExitDeathTest, FailedDrainExitsWithTheCodeWithoutCleanupAfterLogging) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(FailedDrain(), ::testing::ExitedWithCode(7),
              "still in progress after 50 ms");
}

}  // namespace
}  // namespace beacon::program
