#include "core/validation.h"

#include <cstdint>
#include <cstdio>

namespace beacon {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

// Decodes one UTF-8 code point at s[i]; returns its length or 0 if invalid.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t min;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    *cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    *cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    *cp = b0 & 0x07;
    min = 0x10000;
  } else
    return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

std::string QuoteForMessage(std::string_view value) {
  std::string out = "\"";
  const size_t limit = 40;
  for (size_t i = 0; i < value.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (value.size() > limit) out += "...";
  out += '"';
  return out;
}

Status ValidateName(std::string_view field, std::string_view value) {
  if (value.empty() || value.size() > kMaxNameLength) {
    return InvalidArgument(std::string(field) + " must be 1-64 characters, got " +
                           std::to_string(value.size()));
  }
  for (char c : value) {
    if (!IsNameChar(c)) {
      return InvalidArgument(std::string(field) + " " + QuoteForMessage(value) +
                             " may only contain [A-Za-z0-9._-]");
    }
  }
  return Status::Ok();
}

Status ValidateText(std::string_view field, std::string_view value, size_t min_bytes,
                    size_t max_bytes) {
  if (value.size() < min_bytes || value.size() > max_bytes) {
    return InvalidArgument(std::string(field) + " must be " + std::to_string(min_bytes) +
                           "-" + std::to_string(max_bytes) + " bytes, got " +
                           std::to_string(value.size()));
  }
  for (size_t i = 0; i < value.size();) {
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(value, i, &cp);
    if (len == 0) {
      return InvalidArgument(std::string(field) + " is not valid UTF-8 (byte " +
                             std::to_string(i) + ")");
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      return InvalidArgument(std::string(field) +
                             " must not contain control characters (byte " +
                             std::to_string(i) + ")");
    }
    i += len;
  }
  return Status::Ok();
}

Status ValidateHost(std::string_view field, std::string_view value) {
  if (value.empty() || value.size() > 253) {
    return InvalidArgument(std::string(field) + " must be 1-253 characters, got " +
                           std::to_string(value.size()));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return InvalidArgument(std::string(field) + " " + QuoteForMessage(value) +
                             " must be printable ASCII without spaces");
    }
  }
  return Status::Ok();
}

Status ValidatePort(std::string_view field, long long port) {
  if (port < 1 || port > 65535) {
    return InvalidArgument(std::string(field) + " must be 1-65535, got " +
                           std::to_string(port));
  }
  return Status::Ok();
}

}  // namespace beacon
