// Hex digits and %XX decoding, shared by the layers that read them: request paths (static
// files), JSONP form bodies (Engine.IO v3) and JSON unicode escapes (the Socket.IO parser).
// Pure and header-only; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace socketio::core {

// The value of one hex digit (either case), or -1.
constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class PlusIs { plus, space };  // '+' in a path is itself; in a form body it is a space

// Decodes %XX escapes; nullopt for a malformed or truncated one.
inline std::optional<std::string> percent_decode(std::string_view s, PlusIs plus = PlusIs::plus) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus == PlusIs::space) {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace socketio::core
