// How a server program ends: stop accepting, drain, and never unwind the
// stack under a call that is still running.
#pragma once

#include <functional>

namespace beacon::program {

// Stops accepting and drains in-flight calls: `stop_and_drain(drain_timeout_ms)`
// must stop the server and return true once every call in progress has
// finished, false when some are still running at the deadline
// (rpc::ThriftServer::Stop does exactly that).
//
// Returns only when the drain finished; the caller may then destroy what the
// handlers used, in any order. When it did not finish, handlers still run on
// other threads and use objects the caller owns (the lease table, the vote
// store, the voting rules), so returning and running destructors would pull
// them from under those calls: instead it logs a warning, flushes the logs and
// ends the process at once with `exit_code` through std::_Exit (no
// destructors, no atexit handlers; other threads stop where they are). Use it
// only where that is safe: state that must survive is already durable (SQLite
// commits) or soft (leases are re-asserted by heartbeats).
//
// Call from the thread that owns those objects (normally main), once.
void DrainOrExit(const std::function<bool(int drain_timeout_ms)>& stop_and_drain,
                 int drain_timeout_ms, int exit_code);

}  // namespace beacon::program
