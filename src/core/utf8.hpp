// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), for the
// text frames and close reasons a WebSocket peer sends (RFC 6455 §8.1: invalid text closes with
// 1007). Incremental, because a text message may arrive in fragments split anywhere, even inside
// a code point; pure and allocation-free (fuzzed by tests/fuzz/utf8_fuzz.cpp). Any thread; one
// validator per message being checked.
#pragma once

#include <cstdint>
#include <string_view>

namespace socketio::core {

class Utf8Validator {
 public:
  // Checks the next bytes of the text. False once the text seen so far cannot be valid UTF-8,
  // whatever follows (and from then on).
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed is valid and ends on a code point boundary.
  bool complete() const noexcept { return ok_ && need_ == 0; }
  void reset() noexcept { *this = Utf8Validator{}; }

 private:
  bool ok_ = true;
  std::uint8_t need_ = 0;   // continuation bytes still expected for the current code point
  std::uint8_t lo_ = 0x80;  // the range the next continuation byte must be in (narrower than
  std::uint8_t hi_ = 0xBF;  // 80..BF right after E0, ED, F0 and F4)
};

// The whole of `bytes` is valid UTF-8.
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace socketio::core
