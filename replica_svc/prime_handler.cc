#include "prime_handler.h"

#include <chrono>
#include <thread>

#include "primes/miller_rabin.h"
#include "primes/segmented_sieve.h"
#include "rpc/status_mapping.h"

namespace beacon::replica_svc {

// Thrift has no unsigned type: numbers travel as i64 and are read as their
// unsigned 64-bit bits (documented in idl/prime.thrift).
void PrimeHandler::DebugDelay() const {
  if (debug_delay_us_ > 0)
    std::this_thread::sleep_for(std::chrono::microseconds(debug_delay_us_));
}

void PrimeHandler::isPrime(idl::PrimeReply& out, int64_t n) {
  DebugDelay();
  out.n = n;
  out.is_prime = primes::IsPrime(static_cast<uint64_t>(n));
  out.served_by = served_by_;
}

void PrimeHandler::countPrimes(idl::CountReply& out, int64_t lo, int64_t hi) {
  DebugDelay();
  auto count = primes::CountPrimes(static_cast<uint64_t>(lo), static_cast<uint64_t>(hi));
  if (!count.ok()) throw rpc::ToIdlError<idl::PrimeError>(count.status());
  out.lo = lo;
  out.hi = hi;
  out.count = static_cast<int64_t>(*count);
  out.served_by = served_by_;
}

}  // namespace beacon::replica_svc
