// libFuzzer target for the JSONP polling codec (src/eio/parser/jsonp): any POST body unwraps
// without crashing, and any payload wrapped for a GET is a script call whose string, read back
// with JSON's escapes, is the payload again. Built by scripts/fuzz.sh.
#include "eio/parser/jsonp.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using socketio::fuzz::check;

// Reads back the escapes jsonp_wrap writes (\" \\ \b \f \n \r \t \u00XX \u2028 \u2029).
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    if (c == 'u') {
      const unsigned v = static_cast<unsigned>(std::stoul(std::string(s.substr(i + 1, 4)), nullptr, 16));
      i += 4;
      if (v == 0x2028 || v == 0x2029)
        out += v == 0x2028 ? "\xE2\x80\xA8" : "\xE2\x80\xA9";
      else
        out += static_cast<char>(v);
    } else {
      out += c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)socketio::eio::jsonp_unwrap_post(in);
  const auto wrapped = socketio::eio::jsonp_wrap("12", in);
  check(wrapped.starts_with("___eio[12](\"") && wrapped.ends_with("\");"), "wrapper");
  const auto inner = std::string_view(wrapped).substr(12, wrapped.size() - 12 - 3);
  for (std::size_t i = 0; i < inner.size(); ++i) {
    const auto c = static_cast<unsigned char>(inner[i]);
    check(c >= 0x20, "raw control character in the script");
    if (c == '\\')
      ++i;
    else
      check(c != '"', "unescaped quote");
  }
  check(unescape(inner) == in, "round trip");
  return 0;
}
