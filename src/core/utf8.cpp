#include "core/utf8.hpp"

#include <cstring>

namespace socketio::core {

namespace {

// Eight bytes at a time while they are all ASCII (the common case for Socket.IO's JSON text).
std::size_t ascii_prefix(const unsigned char* p, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ull) break;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

}  // namespace

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (!ok_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    if (need_ == 0) {
      i += ascii_prefix(p + i, n - i);
      if (i == n) break;
      const unsigned char c = p[i++];
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_ = 2;
        if (c == 0xE0) lo_ = 0xA0;  // overlong below U+0800
        if (c == 0xED) hi_ = 0x9F;  // surrogates U+D800..U+DFFF
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_ = 3;
        if (c == 0xF0) lo_ = 0x90;  // overlong below U+10000
        if (c == 0xF4) hi_ = 0x8F;  // above U+10FFFF
      } else {
        ok_ = false;  // a stray continuation byte, C0/C1 (overlong ASCII) or F5..FF
        return false;
      }
      continue;
    }
    const unsigned char c = p[i++];
    if (c < lo_ || c > hi_) {
      ok_ = false;
      return false;
    }
    lo_ = 0x80;
    hi_ = 0xBF;
    --need_;
  }
  return true;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace socketio::core
