// BEACON_HOT marks a function that runs on every client call (the session's
// pick, failover, pooled connection and reply read). GCC and Clang place such
// functions together (.text.hot), so a call's code spans a few pages instead
// of being scattered over the binary: a client thread that slept for its
// reply often wakes on a core whose caches and TLB other work has refilled,
// and then pays for every page and cache line the call touches
// (bench/call_footprint measures them; docs/ARCHITECTURE.md, "the client
// path's cost"). It changes placement and optimisation only, never meaning.
#pragma once

#define BEACON_HOT __attribute__((hot))

// BEACON_LIKELY / BEACON_UNLIKELY tell the compiler which way a branch of a
// hot function almost always goes (C++17 has no [[likely]]): the rare side's
// code is then placed after the function's common path, or in its .cold
// part, so the common call runs through fewer cache lines of code.
#define BEACON_LIKELY(x) __builtin_expect(!!(x), 1)
#define BEACON_UNLIKELY(x) __builtin_expect(!!(x), 0)
