// PrimeHandler: the Thrift face of the prime maths. Stateless; only
// translates and stamps served_by.
#pragma once

#include <string>

#include "Prime.h"

namespace beacon::replica_svc {

// Safe for concurrent use.
class PrimeHandler final : public idl::PrimeIf {
 public:
  explicit PrimeHandler(std::string served_by) : served_by_(std::move(served_by)) {}
  void isPrime(idl::PrimeReply& out, int64_t n) override;
  void countPrimes(idl::CountReply& out, int64_t lo, int64_t hi) override;
  void ping(std::string& out) override { out = served_by_; }

 private:
  const std::string served_by_;
};

}  // namespace beacon::replica_svc
