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
