// Translation between core Status codes and the IDL's typed errors, so
// handlers stay thin and clients see the same codes the core produced.
#pragma once

#include "core/status.h"
#include "errors_types.h"

namespace beacon::rpc {

idl::ErrorCode::type ToIdlCode(StatusCode code);
StatusCode FromIdlCode(idl::ErrorCode::type code);

// Builds the IDL exception E (RegistryError, PrimeError, VotingError) from a
// non-ok status.
template <class E>
E ToIdlError(const Status& status) {
  E e;
  e.code = ToIdlCode(status.code());
  e.message = status.message();
  return e;
}

// Status from a caught IDL exception.
template <class E>
Status FromIdlError(const E& e) {
  return Status(FromIdlCode(e.code), e.message);
}

}  // namespace beacon::rpc
