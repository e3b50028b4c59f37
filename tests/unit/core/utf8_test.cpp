// The incremental UTF-8 validator (core/utf8): RFC 3629 boundaries, the cases of Autobahn's
// section 6, and every split of a text across fragments agreeing with the whole-text answer.
#include "core/utf8.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using socketio::core::is_valid_utf8;
using socketio::core::Utf8Validator;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// A slow, obviously correct reference: decode each code point and check its range.
bool reference(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      n = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

TEST(Utf8, AcceptsValidText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"));
  EXPECT_TRUE(is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // Autobahn 6.2
  EXPECT_TRUE(is_valid_utf8(bytes({0xF0, 0x90, 0x80, 0x80})));                 // U+10000
  EXPECT_TRUE(is_valid_utf8(bytes({0xF4, 0x8F, 0xBF, 0xBF})));                 // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(bytes({0xED, 0x9F, 0xBF})));                       // U+D7FF
  EXPECT_TRUE(is_valid_utf8(bytes({0xEE, 0x80, 0x80})));                       // U+E000
  EXPECT_TRUE(is_valid_utf8(bytes({0xEF, 0xBF, 0xBF})));                       // U+FFFF
  EXPECT_TRUE(is_valid_utf8(std::string(1000, 'a') + "\xE2\x82\xAC" + std::string(13, 'b')));
}

TEST(Utf8, RefusesInvalidText) {
  EXPECT_FALSE(is_valid_utf8(bytes({0xC0, 0xAF})));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8(bytes({0xE0, 0x80, 0xAF})));        // overlong, 3 bytes
  EXPECT_FALSE(is_valid_utf8(bytes({0xF0, 0x80, 0x80, 0xAF})));  // overlong, 4 bytes
  EXPECT_FALSE(is_valid_utf8(bytes({0xED, 0xA0, 0x80})));        // U+D800
  EXPECT_FALSE(is_valid_utf8(bytes({0xED, 0xBF, 0xBF})));        // U+DFFF
  EXPECT_FALSE(is_valid_utf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  EXPECT_FALSE(is_valid_utf8(bytes({0xF5, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xFE})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xFF})));
  EXPECT_FALSE(is_valid_utf8(bytes({0x80})));  // lone continuation
  EXPECT_FALSE(is_valid_utf8(bytes({0xC2})));  // truncated
  EXPECT_FALSE(is_valid_utf8(bytes({0xE2, 0x82})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xE2, 0x28, 0xA1})));  // continuation missing
  // Autobahn 6.3.1: valid "κόσμε" followed by an ED A0 80 surrogate and more text
  EXPECT_FALSE(
      is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80\x65\x64\x69\x74\x65\x64"));
}

TEST(Utf8, FailsFastAndStaysFailed) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("ab\xE2\x82"));
  EXPECT_FALSE(v.complete());
  EXPECT_FALSE(v.feed("\x28"));  // the code point cannot go on like this
  EXPECT_FALSE(v.feed("valid"));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.feed("\xAC") == false);
}

TEST(Utf8, EverySplitAgreesWithTheWhole) {
  std::mt19937 rng(42);
  const std::vector<std::string> pieces = {
      "a",        "\xC2\xB5", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF", "\x80", "\xC0",
      "\xED\xA0", "\xF4\x90", "\xFF",         "\xE0\xA0"};
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> len(0, 8);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    for (int k = len(rng); k > 0; --k) s += pieces[pick(rng)];
    const bool whole = reference(s);
    ASSERT_EQ(is_valid_utf8(s), whole) << round;
    for (std::size_t a = 0; a <= s.size(); ++a) {
      for (std::size_t b = a; b <= s.size(); b += 3) {
        Utf8Validator v;
        const bool ok = v.feed(s.substr(0, a)) && v.feed(s.substr(a, b - a)) && v.feed(s.substr(b));
        ASSERT_EQ(ok && v.complete(), whole) << round << " split at " << a << "," << b;
      }
    }
  }
}

TEST(Utf8, AllTwoAndThreeByteSequencesMatchTheReference) {
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      const std::string s = bytes({a, b});
      ASSERT_EQ(is_valid_utf8(s), reference(s)) << a << " " << b;
      if (a >= 0xE0 && a <= 0xF4)
        for (int c : {0x7F, 0x80, 0xBF, 0xC0}) {
          const std::string t = bytes({a, b, c});
          ASSERT_EQ(is_valid_utf8(t), reference(t)) << a << " " << b << " " << c;
        }
    }
}

}  // namespace
