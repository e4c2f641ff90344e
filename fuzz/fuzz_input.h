// FuzzInput: turns a fuzzer's bytes into the values a structured fuzz target
// needs (small integers, bounded strings). Reading past the end yields zeros
// and empty strings, so every input is a valid program of operations.
// Not thread-safe; one per input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace beacon::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | Byte();
    return v;
  }

  int64_t I64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return static_cast<int64_t>(v);
  }

  // A string of 0..max_len bytes: a 2-byte length, then that many bytes (or
  // what is left).
  std::string String(size_t max_len) {
    size_t len = (static_cast<size_t>(Byte()) << 8) | Byte();
    len %= max_len + 1;
    len = std::min(len, size_ - std::min(pos_, size_));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace beacon::fuzz
