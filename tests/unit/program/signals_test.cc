// Termination signals: blocked, then received synchronously by the waiting
// helper.
#include "program/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

namespace beacon::program {
namespace {

TEST(TerminationSignals, WaitTimesOutWithZeroWhenNoneIsSent) {
  BlockTerminationSignals();
  EXPECT_EQ(WaitForTerminationSignal(20), 0);
}

TEST(TerminationSignals, SigtermSentToSelfIsObservedByTheWaitingHelper) {
  BlockTerminationSignals();
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // blocked: stays pending, does not kill us
  EXPECT_EQ(WaitForTerminationSignal(5000), SIGTERM);
}

TEST(TerminationSignals, SigintFromAnotherThreadWakesTheWaiter) {
  BlockTerminationSignals();
  std::thread sender([] { kill(getpid(), SIGINT); });
  EXPECT_EQ(WaitForTerminationSignal(5000), SIGINT);
  sender.join();
}

}  // namespace
}  // namespace beacon::program
