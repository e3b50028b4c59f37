// permessage-deflate payloads with zlib (RFC 7692 §7.2): the RFC's own examples, round trips
// with and without context takeover, the output bound (a "zip bomb"), invalid and truncated
// data, the shard's shared compression cache, and the zlib memory the streams report.
#include "net/ws_deflate.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

namespace ws = socketio::net::ws;
using socketio::Metrics;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

std::string compress(ws::Deflater& d, std::string_view msg, bool keep = false) {
  std::string out;
  const std::string_view pieces[1] = {msg};
  EXPECT_TRUE(d.compress(pieces, out, keep));
  return out;
}

// JSON-ish text that compresses like a chat event.
std::string chat_json(int n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  const char* words[] = {"hello", "room", "message", "deploy", "server", "client", "thanks", "later"};
  std::string s = "42[\"chat message\",{\"room\":\"general\",\"items\":[";
  for (int i = 0; i < n; ++i) {
    s += "{\"id\":" + std::to_string(rng() % 100000) + ",\"user\":\"u" + std::to_string(rng() % 1000) +
         "\",\"text\":\"";
    for (int w = 0; w < 8; ++w) s += std::string(words[rng() % 8]) + " ";
    s += "\"},";
  }
  s += "{}]}]";
  return s;
}

// A raw deflate stream made by zlib directly (level, strategy, flush as given).
std::string zlib_raw(std::string_view in, int flush) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, flush);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" compressed, then again with the first one in the
// window (context takeover): zlib's output is exactly the RFC's.
TEST(WsDeflate, RfcExamples) {
  ws::Deflater d(15, 8, 6);
  EXPECT_EQ(compress(d, "Hello", true), bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}));
  EXPECT_EQ(compress(d, "Hello", true), bytes({0xf2, 0x00, 0x11, 0x00, 0x00}));
  // Without takeover each message starts afresh.
  ws::Deflater fresh(15, 8, 6);
  EXPECT_EQ(compress(fresh, "Hello"), bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}));
  EXPECT_EQ(compress(fresh, "Hello"), bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}));

  ws::Inflater in(15);
  std::string out;
  ASSERT_EQ(in.inflate(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), 100, out, true),
            ws::InflateResult::ok);
  EXPECT_EQ(out, "Hello");
  ASSERT_EQ(in.inflate(bytes({0xf2, 0x00, 0x11, 0x00, 0x00}), 100, out, true), ws::InflateResult::ok);
  EXPECT_EQ(out, "Hello");
  // §7.2.3.3: a message in a stored (uncompressed) block; §7.2.3.6: an empty message is 00.
  ASSERT_EQ(
      in.inflate(bytes({0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}), 100, out, false),
      ws::InflateResult::ok);
  EXPECT_EQ(out, "Hello");
  ASSERT_EQ(in.inflate(bytes({0x00}), 100, out, false), ws::InflateResult::ok);
  EXPECT_EQ(out, "");
}

TEST(WsDeflate, RoundTripsWithAndWithoutTakeover) {
  for (bool keep : {false, true}) {
    ws::Deflater d(15, 8, 6);
    ws::Inflater in(15);
    std::size_t wire = 0, raw = 0;
    for (unsigned i = 0; i < 20; ++i) {
      const std::string msg = chat_json(20, i);
      const std::string packed = compress(d, msg, keep);
      std::string out;
      ASSERT_EQ(in.inflate(packed, 1'000'000, out, keep), ws::InflateResult::ok);
      ASSERT_EQ(out, msg);
      wire += packed.size();
      raw += msg.size();
    }
    EXPECT_LT(wire * 2, raw) << "keep " << keep;
  }
}

TEST(WsDeflate, PiecesCompressLikeOneMessage) {
  ws::Deflater d(15, 8, 6);
  const std::string body = chat_json(10);
  std::string joined, split;
  const std::string msg = "4" + body;
  const std::string_view whole[1] = {msg};
  const std::string_view two[2] = {"4", body};
  ASSERT_TRUE(d.compress(whole, joined, false));
  ASSERT_TRUE(d.compress(two, split, false));
  ws::Inflater in(15);
  std::string a, b;
  ASSERT_EQ(in.inflate(joined, 1'000'000, a, false), ws::InflateResult::ok);
  ASSERT_EQ(in.inflate(split, 1'000'000, b, false), ws::InflateResult::ok);
  EXPECT_EQ(a, msg);
  EXPECT_EQ(b, msg);
}

TEST(WsDeflate, SmallWindows) {
  for (int bits = 9; bits <= 15; ++bits) {
    ws::Deflater d(bits, 1, 9);
    ws::Inflater in(bits);
    const std::string msg = chat_json(50);
    std::string out;
    ASSERT_EQ(in.inflate(compress(d, msg, true), 1'000'000, out, true), ws::InflateResult::ok) << bits;
    EXPECT_EQ(out, msg);
    ASSERT_EQ(in.inflate(compress(d, msg, true), 1'000'000, out, true), ws::InflateResult::ok) << bits;
    EXPECT_EQ(out, msg);
  }
}

// A "zip bomb": 50 MB of zeros compress to ~50 KB; inflating stops one byte past the limit.
TEST(WsDeflate, OutputNeverPassesTheLimit) {
  const std::string zeros(50'000'000, '\0');
  ws::Deflater d(15, 8, 9);
  const std::string bomb = compress(d, zeros);
  EXPECT_LT(bomb.size(), 100'000u);
  ws::Inflater in(15);
  std::string out;
  EXPECT_EQ(in.inflate(bomb, 1'000'000, out, false), ws::InflateResult::too_big);
  EXPECT_EQ(out.size(), 0u);
  EXPECT_LE(out.capacity(), 1'000'001u + 64);  // never grown past limit + 1
  // Exactly at the limit is fine; one byte more is not.
  const std::string exact(1000, 'a');
  ASSERT_EQ(in.inflate(compress(d, exact), 1000, out, false), ws::InflateResult::ok);
  EXPECT_EQ(out, exact);
  EXPECT_EQ(in.inflate(compress(d, exact), 999, out, false), ws::InflateResult::too_big);
  // The stream is usable again afterwards.
  ASSERT_EQ(in.inflate(compress(d, "again"), 1000, out, false), ws::InflateResult::ok);
  EXPECT_EQ(out, "again");
}

TEST(WsDeflate, InvalidOrTruncatedDataIsRefused) {
  ws::Inflater in(15);
  std::string out;
  // BTYPE 11 is reserved.
  EXPECT_EQ(in.inflate(bytes({0x07, 0x00}), 1000, out, false), ws::InflateResult::bad_data);
  // A stored block whose NLEN is not ~LEN.
  EXPECT_EQ(in.inflate(bytes({0x00, 0x05, 0x00, 0x00, 0x00, 'H', 'e', 'l', 'l', 'o'}), 1000, out, false),
            ws::InflateResult::bad_data);
  // Random bytes: refused (never a crash, never output past the limit).
  std::mt19937 rng(3);
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    std::string junk(64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    const auto r = in.inflate(junk, 1000, out, false);
    refused += r != ws::InflateResult::ok;
    EXPECT_LE(out.size(), 1000u);
  }
  EXPECT_GT(refused, 150);
  // A real message cut short.
  ws::Deflater d(15, 8, 6);
  const std::string packed = compress(d, chat_json(30));
  EXPECT_EQ(in.inflate(std::string_view(packed).substr(0, packed.size() / 2), 1'000'000, out, false),
            ws::InflateResult::bad_data);
  // And the stream still inflates a good one after.
  ASSERT_EQ(in.inflate(packed, 1'000'000, out, false), ws::InflateResult::ok);
  EXPECT_EQ(out, chat_json(30));
}

TEST(WsDeflate, AFinalBlockFromTheClientIsAccepted) {
  // A sender may end its deflate stream (BFINAL) instead of a sync flush; the tail is then unused.
  const std::string msg = chat_json(5);
  ws::Inflater in(15);
  std::string out;
  ASSERT_EQ(in.inflate(zlib_raw(msg, Z_FINISH), 1'000'000, out, true), ws::InflateResult::ok);
  EXPECT_EQ(out, msg);
  ASSERT_EQ(in.inflate(zlib_raw(msg, Z_FINISH), 1'000'000, out, true), ws::InflateResult::ok);
  EXPECT_EQ(out, msg);
}

TEST(WsDeflate, ShardSharesOneCompressionPerBody) {
  ws::DeflateShard shard(8, 6);
  auto body = socketio::core::make_bytes(chat_json(20));
  const auto a = shard.compress("4", body, 15);
  ASSERT_TRUE(a.bytes);
  EXPECT_FALSE(a.reused);
  EXPECT_TRUE(shard.needs_clear());
  EXPECT_FALSE(shard.needs_clear());  // once per run
  const auto b = shard.compress("4", body, 15);
  EXPECT_TRUE(b.reused);
  EXPECT_EQ(a.bytes.get(), b.bytes.get());  // the same bytes, not a copy
  // Another head, window or body is another message.
  EXPECT_FALSE(shard.compress("\x04", body, 15).reused);
  EXPECT_FALSE(shard.compress("4", body, 12).reused);
  EXPECT_FALSE(shard.compress("4", socketio::core::make_bytes(*body), 15).reused);
  shard.clear();
  EXPECT_FALSE(shard.compress("4", body, 15).reused);
  // What it made inflates back.
  ws::Inflater in(15);
  std::string out;
  ASSERT_EQ(in.inflate(*a.bytes, 1'000'000, out, false), ws::InflateResult::ok);
  EXPECT_EQ(out, "4" + *body);
}

// A packet with 10 attachments is 11 frames per recipient: the second recipient reuses them all.
TEST(WsDeflate, ShardSharesEveryFrameOfAPacketWithAttachments) {
  ws::DeflateShard shard(8, 6);
  std::vector<socketio::core::SharedBytes> frames;
  for (unsigned i = 0; i < 11; ++i) frames.push_back(socketio::core::make_bytes(chat_json(10, i)));
  for (const auto& f : frames) EXPECT_FALSE(shard.compress("", f, 15).reused);
  for (int recipient = 0; recipient < 3; ++recipient)
    for (const auto& f : frames) EXPECT_TRUE(shard.compress("", f, 15).reused);
}

TEST(WsDeflate, ShardSendsIncompressibleMessagesAsTheyAre) {
  ws::DeflateShard shard(8, 6);
  std::mt19937 rng(5);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  const auto r = shard.compress("", socketio::core::make_bytes(noise), 15);
  EXPECT_FALSE(r.bytes);
  EXPECT_FALSE(r.failed);
}

// Every byte zlib allocates is in the gauge, and given back when the stream goes.
TEST(WsDeflate, MemoryIsCounted) {
  Metrics metrics(1);
  auto gauge = metrics.gauge("zlib_bytes", "test");
  {
    ws::Deflater d(15, 8, 6, gauge);
    EXPECT_EQ(d.memory(), 0u);  // nothing until used
    compress(d, "hello");
    // zlib's figure for 15/8: 2^17 + 2^17 (+ its state).
    EXPECT_GE(d.memory(), 256u * 1024);
    EXPECT_LT(d.memory(), 300u * 1024);
    EXPECT_EQ(metrics.value("zlib_bytes"), static_cast<double>(d.memory()));
    ws::Deflater small(9, 1, 6, gauge);
    compress(small, "hello");
    EXPECT_LT(small.memory(), 16u * 1024);  // 2^11 + 2^10 + state
    ws::Inflater in(15, gauge);
    std::string out;
    ASSERT_EQ(in.inflate(bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), 100, out, false),
              ws::InflateResult::ok);
    EXPECT_GE(in.memory(), 32u * 1024);
    EXPECT_LT(in.memory(), 48u * 1024);
    EXPECT_EQ(metrics.value("zlib_bytes"), static_cast<double>(d.memory() + small.memory() + in.memory()));
  }
  EXPECT_EQ(metrics.value("zlib_bytes"), 0.0);
}
