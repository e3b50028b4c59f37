#include "net/http_compression.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

using socketio::net::compress_body;
using socketio::net::ContentCoding;
using socketio::net::negotiate_coding;

namespace {

// Inflates a gzip (windowBits 31) or zlib (15) body; empty on error.
std::string inflate_all(const std::string& in, int bits) {
  z_stream z{};
  if (inflateInit2(&z, bits) != Z_OK) return {};
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace

TEST(HttpCompression, NegotiatesLikeNegotiator) {
  EXPECT_EQ(negotiate_coding(std::nullopt), ContentCoding::identity);
  EXPECT_EQ(negotiate_coding(""), ContentCoding::identity);
  EXPECT_EQ(negotiate_coding("gzip, deflate, br"), ContentCoding::gzip);
  EXPECT_EQ(negotiate_coding("deflate, gzip"), ContentCoding::deflate);
  EXPECT_EQ(negotiate_coding("gzip;q=0.5, deflate"), ContentCoding::deflate);
  EXPECT_EQ(negotiate_coding("GZIP"), ContentCoding::gzip);
  EXPECT_EQ(negotiate_coding("*"), ContentCoding::gzip);
  EXPECT_EQ(negotiate_coding("*, gzip;q=0"), ContentCoding::deflate);
  EXPECT_EQ(negotiate_coding("gzip;q=0, deflate;q=0"), ContentCoding::identity);
  EXPECT_EQ(negotiate_coding("br, identity"), ContentCoding::identity);
  EXPECT_EQ(negotiate_coding("gzip;q=abc"), ContentCoding::identity);  // invalid q: not acceptable
  EXPECT_EQ(negotiate_coding(" ,, ;q=1, deflate ; q=0.1 "), ContentCoding::deflate);
}

TEST(HttpCompression, GzipAndDeflateRoundTrip) {
  const std::string body(5000, 'a');
  std::string gz, df;
  ASSERT_TRUE(compress_body(ContentCoding::gzip, body, gz));
  ASSERT_TRUE(compress_body(ContentCoding::deflate, body, df));
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_EQ(static_cast<unsigned char>(df[0]), 0x78);  // zlib header
  EXPECT_LT(gz.size(), 100u);
  EXPECT_EQ(inflate_all(gz, 31), body);
  EXPECT_EQ(inflate_all(df, 15), body);
  std::string out;
  EXPECT_FALSE(compress_body(ContentCoding::identity, body, out));
  ASSERT_TRUE(compress_body(ContentCoding::gzip, "", out));
  EXPECT_EQ(inflate_all(out, 31), "");
}
