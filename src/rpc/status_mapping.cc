#include "rpc/status_mapping.h"

namespace beacon::rpc {

idl::ErrorCode::type ToIdlCode(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return idl::ErrorCode::INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return idl::ErrorCode::NOT_FOUND;
    case StatusCode::kAlreadyExists:
      return idl::ErrorCode::ALREADY_EXISTS;
    case StatusCode::kUnknownInstance:
      return idl::ErrorCode::UNKNOWN_INSTANCE;
    case StatusCode::kUnavailable:
      return idl::ErrorCode::UNAVAILABLE;
    case StatusCode::kConflict:
      return idl::ErrorCode::CONFLICT;
    case StatusCode::kAlreadyVoted:
      return idl::ErrorCode::ALREADY_VOTED;
    case StatusCode::kPermissionDenied:
      return idl::ErrorCode::PERMISSION_DENIED;
    case StatusCode::kResourceExhausted:
      return idl::ErrorCode::RESOURCE_EXHAUSTED;
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return idl::ErrorCode::INTERNAL;
}

StatusCode FromIdlCode(idl::ErrorCode::type code) {
  switch (code) {
    case idl::ErrorCode::INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case idl::ErrorCode::NOT_FOUND:
      return StatusCode::kNotFound;
    case idl::ErrorCode::ALREADY_EXISTS:
      return StatusCode::kAlreadyExists;
    case idl::ErrorCode::UNKNOWN_INSTANCE:
      return StatusCode::kUnknownInstance;
    case idl::ErrorCode::UNAVAILABLE:
      return StatusCode::kUnavailable;
    case idl::ErrorCode::CONFLICT:
      return StatusCode::kConflict;
    case idl::ErrorCode::ALREADY_VOTED:
      return StatusCode::kAlreadyVoted;
    case idl::ErrorCode::PERMISSION_DENIED:
      return StatusCode::kPermissionDenied;
    case idl::ErrorCode::RESOURCE_EXHAUSTED:
      return StatusCode::kResourceExhausted;
    case idl::ErrorCode::INTERNAL:
      break;
  }
  return StatusCode::kInternal;
}

}  // namespace beacon::rpc
