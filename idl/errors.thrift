// Shared error vocabulary for every Beacon service.
//
// Every method that can fail throws its service family's exception carrying one
// of these codes and a human-readable message that names the offending field or
// id. No method reports failure through a magic return value.

namespace cpp beacon.idl

enum ErrorCode {
  // The request is malformed: a field is empty, too long, has bad characters or
  // is out of range. The message names the field. Retrying the same request
  // will fail the same way.
  INVALID_ARGUMENT = 1,
  // A named thing (poll, option, service) does not exist.
  NOT_FOUND = 2,
  // Creating something whose id is held by someone else (e.g. an instance id
  // registered under another live lease).
  ALREADY_EXISTS = 3,
  // heartbeat/deregister for an instance the registry does not hold (never
  // registered, expired, or the registry restarted). The caller should register
  // again.
  UNKNOWN_INSTANCE = 4,
  // A transient condition (e.g. the database stayed locked past the call's
  // deadline). Safe to retry later, possibly on another replica.
  UNAVAILABLE = 5,
  // The request contradicts current state (e.g. voting on a closed poll).
  CONFLICT = 6,
  // The voter already voted for a different option in this poll.
  ALREADY_VOTED = 7,
  // Missing or wrong registration token, or a lease that is not the caller's.
  PERMISSION_DENIED = 8,
  // A configured limit (instances, watchers) is reached. Retry later.
  RESOURCE_EXHAUSTED = 9,
  // A bug or an unexpected failure inside the server.
  INTERNAL = 10,
}

exception RegistryError {
  1: ErrorCode code,
  2: string message,
}

exception PrimeError {
  1: ErrorCode code,
  2: string message,
}

exception VotingError {
  1: ErrorCode code,
  2: string message,
}
