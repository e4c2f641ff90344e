// Status and Result: how Beacon's core libraries report failure without
// exceptions. Transport edges translate them to the IDL's typed exceptions.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace beacon {

// Mirrors idl/errors.thrift ErrorCode; each code says when to use it.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // malformed input; the message names the field
  kNotFound,           // a named poll, option or service does not exist
  kAlreadyExists,      // an id is held by someone else
  kUnknownInstance,    // the registry does not hold this instance (register again)
  kUnavailable,        // transient (database busy, server unreachable): retry
  kConflict,           // contradicts current state (e.g. poll closed)
  kAlreadyVoted,       // the voter voted for another option
  kPermissionDenied,   // wrong token or someone else's lease
  kResourceExhausted,  // a configured limit is reached
  kInternal,           // a bug or an unexpected failure
};

// Stable lower-case name of a code, e.g. "invalid_argument".
const char* StatusCodeName(StatusCode code);

// The outcome of an operation: ok, or a code with a message.
// One pointer wide: an ok Status holds nothing (made, moved and destroyed
// with a store or a compare; every client call passes several along its
// path), an error holds its code and message on the heap. Copying an error
// copies its message. Thread-compatible (a const Status is safe to share).
class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message)
      : rep_(code == StatusCode::kOk && message.empty()
                 ? nullptr
                 : new Rep{code, std::move(message)}) {}
  Status(const Status& other) : rep_(other.rep_ ? new Rep(*other.rep_) : nullptr) {}
  Status(Status&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  Status& operator=(const Status& other) {
    if (this != &other) Status(other).Swap(*this);
    return *this;
  }
  Status& operator=(Status&& other) noexcept {
    Status(std::move(other)).Swap(*this);
    return *this;
  }
  ~Status() { delete rep_; }

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr || rep_->code == StatusCode::kOk; }
  StatusCode code() const { return rep_ != nullptr ? rep_->code : StatusCode::kOk; }
  const std::string& message() const { return rep_ != nullptr ? rep_->message : Empty(); }
  // "invalid_argument: service_name must be 1-64 characters" or "ok".
  std::string ToString() const;

  bool operator==(const Status& other) const {
    return code() == other.code() && message() == other.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  static const std::string& Empty();
  void Swap(Status& other) noexcept { std::swap(rep_, other.rep_); }

  Rep* rep_ = nullptr;  // null: ok with no message
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status UnknownInstance(std::string m) {
  return {StatusCode::kUnknownInstance, std::move(m)};
}
inline Status Unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
inline Status AlreadyVoted(std::string m) {
  return {StatusCode::kAlreadyVoted, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value of T or a non-ok Status. Accessing value() of a failed Result is a
// programming error (checked by assert in builds without NDEBUG, such as the
// Debug thread-safety build).
template <class T>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose. Taking T by reference, not by value, saves a move
  // of every reply on its way out of a client call.
  Result(const T& value) : value_(value) {}              // NOLINT
  Result(T&& value) : value_(std::move(value)) {}        // NOLINT
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be ok

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& { return Get(); }
  T& value() & { return Get(); }
  T&& value() && { return std::move(Get()); }
  const T& operator*() const& { return Get(); }
  T& operator*() & { return Get(); }
  const T* operator->() const { return &Get(); }
  T* operator->() { return &Get(); }

 private:
  T& Get() {
    assert(value_.has_value() && "value() of a failed Result");
    return *value_;
  }
  const T& Get() const {
    assert(value_.has_value() && "value() of a failed Result");
    return *value_;
  }

  std::optional<T> value_;
  Status status_;  // ok when value_ is set
};

}  // namespace beacon
