// Termination signals handled synchronously: SIGINT/SIGTERM are blocked in
// every thread and a waiting thread receives them with sigtimedwait, so
// shutdown runs as ordinary code (deregister, drain, close) rather than in a
// signal handler.
#pragma once

namespace beacon::program {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it creates
// afterwards, and ignores SIGPIPE. Call first thing in main().
void BlockTerminationSignals();

// Waits up to timeout_ms for SIGINT/SIGTERM; returns the signal or 0.
int WaitForTerminationSignal(int timeout_ms);

}  // namespace beacon::program
