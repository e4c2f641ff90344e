// Validation of names, ids and text that arrive from the network or the
// command line. Every check returns InvalidArgument naming the field.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace beacon {

inline constexpr size_t kMaxNameLength = 64;

// A service name, instance id or metadata key: 1-64 chars of [A-Za-z0-9._-].
Status ValidateName(std::string_view field, std::string_view value);

// Valid UTF-8 with no control characters (U+0000-U+001F, U+007F-U+009F),
// between min_bytes and max_bytes long. Used for poll text and voter ids.
Status ValidateText(std::string_view field, std::string_view value, size_t min_bytes,
                    size_t max_bytes);

// A host name or address: 1-253 bytes, printable ASCII without spaces.
Status ValidateHost(std::string_view field, std::string_view value);

// 1..65535.
Status ValidatePort(std::string_view field, long long port);

// Quotes a value for an error message: at most 40 bytes, non-printable bytes
// escaped, so hostile input cannot bloat or garble logs.
std::string QuoteForMessage(std::string_view value);

}  // namespace beacon
