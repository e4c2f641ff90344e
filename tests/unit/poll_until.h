// PollUntil: how unit tests wait for another thread. Checks `done` every
// millisecond until it holds or `limit` passes, so a broken component fails
// the test instead of hanging it, and no fixed sleep decides an outcome.
#pragma once

#include <chrono>
#include <thread>

namespace beacon::testing {

// True once done() holds; false when `limit` passed first.
template <class F>
bool PollUntil(F&& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace beacon::testing
