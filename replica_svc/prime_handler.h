// PrimeHandler: the Thrift face of the prime maths. Stateless; only
// translates and stamps served_by.
#pragma once

#include <cstdint>
#include <string>

#include "Prime.h"

namespace beacon::replica_svc {

// Safe for concurrent use.
class PrimeHandler final : public idl::PrimeIf {
 public:
  // debug_delay_us > 0 makes isPrime and countPrimes sleep that long before
  // answering: a benchmarking aid (bench/ makes one replica slow with it to
  // watch how the balancers share load), never for production.
  explicit PrimeHandler(std::string served_by, int64_t debug_delay_us = 0)
      : served_by_(std::move(served_by)), debug_delay_us_(debug_delay_us) {}
  void isPrime(idl::PrimeReply& out, int64_t n) override;
  void countPrimes(idl::CountReply& out, int64_t lo, int64_t hi) override;
  void ping(std::string& out) override { out = served_by_; }

 private:
  void DebugDelay() const;

  const std::string served_by_;
  const int64_t debug_delay_us_;
};

}  // namespace beacon::replica_svc
