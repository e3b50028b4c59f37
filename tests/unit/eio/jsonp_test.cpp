#include "eio/parser/jsonp.hpp"

#include <gtest/gtest.h>

using namespace socketio::eio;

TEST(Jsonp, IndexKeepsDigitsOnly) {
  EXPECT_EQ(jsonp_index("12"), "12");
  EXPECT_EQ(jsonp_index("1);alert(2"), "12");
  EXPECT_EQ(jsonp_index(""), "");
}

TEST(Jsonp, WrapIsJsonStringifyPlusLineSeparators) {
  EXPECT_EQ(jsonp_wrap("0", "2:40"), "___eio[0](\"2:40\");");
  EXPECT_EQ(jsonp_wrap("3", "a\"b\\c\nd\x01\x1e"), "___eio[3](\"a\\\"b\\\\c\\nd\\u0001\\u001e\");");
  EXPECT_EQ(jsonp_wrap("1", "x\xE2\x80\xA8y\xE2\x80\xA9z\xC3\xA9"), "___eio[1](\"x\\u2028y\\u2029z\xC3\xA9\");");
  EXPECT_EQ(jsonp_wrap("1", "\xE2\x80"), "___eio[1](\"\xE2\x80\");");  // truncated sequence: as is
}

TEST(Jsonp, UnwrapPost) {
  EXPECT_EQ(jsonp_unwrap_post("d=5%3A4abcd"), "5:4abcd");
  EXPECT_EQ(jsonp_unwrap_post("x=1&d=a+b"), "a b");
  EXPECT_EQ(jsonp_unwrap_post("d=a%5Cnb"), "a\nb");            // \n: a newline
  EXPECT_EQ(jsonp_unwrap_post("d=a%5C%5Cnb"), "a\\nb");        // \\n: the two characters \n
  EXPECT_EQ(jsonp_unwrap_post("d=%5C"), "\\");
  EXPECT_EQ(jsonp_unwrap_post("d"), "");
  EXPECT_FALSE(jsonp_unwrap_post("d=1&d=2"));
  EXPECT_FALSE(jsonp_unwrap_post("e=1"));
  EXPECT_FALSE(jsonp_unwrap_post("d=%zz"));
  EXPECT_FALSE(jsonp_unwrap_post("d=%4"));
  EXPECT_FALSE(jsonp_unwrap_post(""));
}
