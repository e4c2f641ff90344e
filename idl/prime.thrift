// The stateless prime service offered by every replica (multiplexed name
// "prime"). Every call is idempotent and may be retried on any replica.

include "errors.thrift"

namespace cpp beacon.idl

struct PrimeReply {
  1: i64 n,          // the number asked about, as unsigned 64-bit bits
  2: bool is_prime,
  3: string served_by,
}

struct CountReply {
  1: i64 lo,
  2: i64 hi,
  3: i64 count,
  4: string served_by,
}

service Prime {
  // Deterministic Miller-Rabin: exact for every unsigned 64-bit n. Thrift has
  // no unsigned type, so n travels as i64 and is read as its unsigned bits.
  PrimeReply isPrime(1: i64 n) throws (1: errors.PrimeError err),

  // Number of primes p with lo <= p <= hi (unsigned 64-bit bits as above).
  // INVALID_ARGUMENT when lo > hi or hi - lo + 1 exceeds 10,000,000, so one
  // call cannot occupy a replica for long.
  CountReply countPrimes(1: i64 lo, 2: i64 hi)
      throws (1: errors.PrimeError err),

  // Liveness probe; returns the replica's instance id.
  string ping(),
}
