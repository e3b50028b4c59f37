// libFuzzer target for the incremental UTF-8 validator (src/core/utf8): the first two bytes
// choose two split points; the verdict on the text fed in three pieces must equal the verdict on
// the whole (fragments split anywhere, even inside a code point, change nothing), and a valid
// text stays valid when a valid text is appended. (The unit test checks the verdicts against a
// decoding reference.) Built by scripts/fuzz.sh.
#include "core/utf8.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using socketio::core::is_valid_utf8;
using socketio::core::Utf8Validator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::size_t a = data[0] % (text.size() + 1);
  std::size_t b = data[1] % (text.size() + 1);
  if (a > b) std::swap(a, b);
  const bool whole = is_valid_utf8(text);
  Utf8Validator v;
  const bool fed = v.feed(text.substr(0, a)) && v.feed(text.substr(a, b - a)) && v.feed(text.substr(b));
  if ((fed && v.complete()) != whole) {
    std::fprintf(stderr, "split at %zu,%zu disagrees with the whole text\n", a, b);
    std::abort();
  }
  if (whole && !is_valid_utf8(std::string(text) + "\xE2\x82\xAC" + std::string(text))) std::abort();
  return 0;
}
