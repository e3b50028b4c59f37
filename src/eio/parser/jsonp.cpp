#include "eio/parser/jsonp.hpp"

#include "core/percent.hpp"

#include <cstdio>

namespace socketio::eio {

std::string jsonp_index(std::string_view j) {
  std::string out;
  for (char c : j)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

std::string jsonp_wrap(std::string_view index, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + payload.size() / 8 + index.size() + 16);
  out += "___eio[";
  out += index;
  out += "](\"";
  for (std::size_t i = 0; i < payload.size(); ++i) {
    const auto c = static_cast<unsigned char>(payload[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c == 0xE2 && i + 2 < payload.size() && static_cast<unsigned char>(payload[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(payload[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(payload[i + 2]) == 0xA9)) {
      // U+2028 / U+2029: legal in JSON strings, line terminators in (older) JavaScript.
      out += static_cast<unsigned char>(payload[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\");";
  return out;
}

std::optional<std::string> jsonp_unwrap_post(std::string_view body) {
  std::optional<std::string> d;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto field = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    const auto eq = field.find('=');
    auto key = core::percent_decode(field.substr(0, eq), core::PlusIs::space);
    if (!key || *key != "d") continue;
    if (d) return std::nullopt;  // d twice: the reference's qs.parse gives an array, ignored
    d = core::percent_decode(eq == std::string_view::npos ? std::string_view{} : field.substr(eq + 1),
                             core::PlusIs::space);
    if (!d) return std::nullopt;
  }
  if (!d) return std::nullopt;
  // The client escaped real newlines as "\n" and literal "\n" as "\\n": undo both in one pass.
  std::string out;
  out.reserve(d->size());
  const std::string& s = *d;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'n') {
      out += "\\n";
      i += 2;
    } else if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      i += 1;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace socketio::eio
