// tls13::RecordLayer (src/net/tls_record.*) on its own: two layers made with mirrored secrets
// talk to each other, so every record one seals the other must open, and every malformed record
// must be refused with the alert RFC 8446 names. Interoperation with OpenSSL (padding, key
// updates, resumption) is in tls_stream_test.cpp.
#include "net/tls_record.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace socketio::net::tls13 {
namespace {

struct Pair {
  std::unique_ptr<RecordLayer> a;  // writes with `ours`, reads with `theirs`
  std::unique_ptr<RecordLayer> b;  // the mirror
};

Pair make_pair(std::uint16_t suite, std::size_t secret_size) {
  std::array<unsigned char, 48> ours{};
  std::array<unsigned char, 48> theirs{};
  for (std::size_t i = 0; i < ours.size(); ++i) {
    ours[i] = static_cast<unsigned char>(i * 7 + 1);
    theirs[i] = static_cast<unsigned char>(i * 13 + 5);
  }
  return {RecordLayer::make(suite, theirs.data(), ours.data(), secret_size, 0, 0),
          RecordLayer::make(suite, ours.data(), theirs.data(), secret_size, 0, 0)};
}

std::vector<unsigned char> seal(RecordLayer& rl, ContentType type, const std::string& content) {
  std::vector<unsigned char> out(content.size() + kSealOverhead);
  const RecordLayer::Part part{content.data(), content.size()};
  const std::size_t n = rl.seal(type, &part, 1, out.data());
  out.resize(n);
  return out;
}

struct Opened {
  bool ok = false;
  ContentType type = ContentType::invalid;
  std::string content;
  Alert alert = Alert::close_notify;
};

Opened open(RecordLayer& rl, std::vector<unsigned char> record) {
  Opened o;
  std::size_t size = 0;
  if (record.size() < kHeaderSize || (size = RecordLayer::record_size(record.data(), o.alert)) == 0) return o;
  if (size != record.size()) return o;  // a changed length: not this record
  std::size_t content = 0;
  o.ok = rl.open(record.data(), record.size(), o.type, content, o.alert);
  if (o.ok) o.content.assign(reinterpret_cast<const char*>(record.data()) + kHeaderSize, content);
  return o;
}

class RecordLayerSuites : public ::testing::TestWithParam<std::pair<std::uint16_t, std::size_t>> {};

TEST_P(RecordLayerSuites, SealedRecordsOpenInOrderAndNoOtherWay) {
  auto [a, b] = make_pair(GetParam().first, GetParam().second);
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 5; ++i) {
    const std::string text =
        "message " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 1000, 'x');
    const auto record = seal(*a, ContentType::application_data, text);
    ASSERT_EQ(record.size(), text.size() + kSealOverhead);
    EXPECT_EQ(record[0], 23);  // the outer type hides the real one
    const Opened o = open(*b, record);
    ASSERT_TRUE(o.ok);
    EXPECT_EQ(o.type, ContentType::application_data);
    EXPECT_EQ(o.content, text);
  }
  EXPECT_EQ(a->write_seq(), 5U);
  EXPECT_EQ(b->read_seq(), 5U);
  // The same record again (a replay): its sequence number is behind, so it fails.
  const auto record = seal(*a, ContentType::application_data, "once");
  EXPECT_TRUE(open(*b, record).ok);
  const Opened replay = open(*b, record);
  EXPECT_FALSE(replay.ok);
  EXPECT_EQ(replay.alert, Alert::bad_record_mac);
  // Its own writes cannot be opened with its read key.
  auto [c, d] = make_pair(GetParam().first, GetParam().second);
  EXPECT_FALSE(open(*c, seal(*c, ContentType::application_data, "mine")).ok);
}

TEST_P(RecordLayerSuites, AnyFlippedBitFailsTheTag) {
  auto [a, b] = make_pair(GetParam().first, GetParam().second);
  const auto record = seal(*a, ContentType::application_data, "attack at dawn");
  for (std::size_t i = 0; i < record.size(); ++i) {
    auto [x, y] = make_pair(GetParam().first, GetParam().second);
    auto tampered = seal(*x, ContentType::application_data, "attack at dawn");
    tampered[i] ^= 0x01;
    const Opened o = open(*y, tampered);
    EXPECT_FALSE(o.ok) << "byte " << i;
  }
}

TEST_P(RecordLayerSuites, KeyUpdateMovesBothEnds) {
  auto [a, b] = make_pair(GetParam().first, GetParam().second);
  std::vector<unsigned char> update(5 + kSealOverhead);
  update.resize(a->seal_key_update(update.data()));
  ASSERT_FALSE(update.empty());
  const Opened o = open(*b, update);
  ASSERT_TRUE(o.ok);
  ASSERT_EQ(o.type, ContentType::handshake);
  bool requested = true;
  Alert alert{};
  ASSERT_TRUE(b->handshake(reinterpret_cast<const unsigned char*>(o.content.data()), o.content.size(),
                           requested, alert));
  EXPECT_FALSE(requested);
  EXPECT_EQ(a->write_seq(), 0U);
  EXPECT_EQ(b->read_seq(), 0U);
  const Opened after = open(*b, seal(*a, ContentType::application_data, "new key"));
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(after.content, "new key");
}

INSTANTIATE_TEST_SUITE_P(Tls13, RecordLayerSuites,
                         ::testing::Values(std::make_pair(std::uint16_t{0x1301}, std::size_t{32}),
                                           std::make_pair(std::uint16_t{0x1302}, std::size_t{48}),
                                           std::make_pair(std::uint16_t{0x1303}, std::size_t{32})));

TEST(RecordLayer, OnlyTheThreeTls13SuitesWithTheirHashSize) {
  const std::array<unsigned char, 48> s{};
  EXPECT_FALSE(RecordLayer::make(0x1304, s.data(), s.data(), 32, 0, 0));  // AES-128-CCM: not here
  EXPECT_FALSE(RecordLayer::make(0xc02f, s.data(), s.data(), 32, 0, 0));  // a TLS 1.2 suite
  EXPECT_FALSE(RecordLayer::make(0x1301, s.data(), s.data(), 48, 0, 0));  // SHA-256 secrets are 32
  EXPECT_TRUE(RecordLayer::make(0x1301, s.data(), s.data(), 32, 0, 0));
}

TEST(RecordLayer, SequenceNumbersStartWhereTheHandshakeLeftThem) {
  std::array<unsigned char, 32> k1{};
  std::array<unsigned char, 32> k2{};
  k1.fill(1);
  k2.fill(2);
  auto writer = RecordLayer::make(0x1301, k1.data(), k2.data(), 32, 0, 0);
  auto reader = RecordLayer::make(0x1301, k2.data(), k1.data(), 32, 1, 0);  // expects record 1
  const auto first = seal(*writer, ContentType::application_data, "ticket");
  EXPECT_FALSE(open(*reader, first).ok);
  auto reader2 = RecordLayer::make(0x1301, k2.data(), k1.data(), 32, 1, 0);
  EXPECT_TRUE(open(*reader2, seal(*writer, ContentType::application_data, "data")).ok);
}

TEST(RecordLayer, SizesAndHeaders) {
  auto [a, b] = make_pair(0x1301, 32);
  // The largest content fits, one more byte does not.
  const std::string max(kMaxPlaintext, 'm');
  const auto big = seal(*a, ContentType::application_data, max);
  ASSERT_EQ(big.size(), kMaxPlaintext + kSealOverhead);
  EXPECT_TRUE(open(*b, big).ok);
  std::vector<unsigned char> out(kMaxPlaintext + 1 + kSealOverhead);
  const std::string over(kMaxPlaintext + 1, 'o');
  const RecordLayer::Part part{over.data(), over.size()};
  EXPECT_EQ(a->seal(ContentType::application_data, &part, 1, out.data()), 0U);

  Alert alert{};
  const unsigned char ccs[5] = {20, 3, 3, 0, 1};
  EXPECT_EQ(RecordLayer::record_size(ccs, alert), 0U);
  EXPECT_EQ(alert, Alert::unexpected_message);
  const unsigned char handshake[5] = {22, 3, 3, 0, 40};
  EXPECT_EQ(RecordLayer::record_size(handshake, alert), 0U);
  EXPECT_EQ(alert, Alert::unexpected_message);
  const unsigned char too_long[5] = {23, 3, 3, 0x41, 0x01};  // 16 641 > 2^14 + 256
  EXPECT_EQ(RecordLayer::record_size(too_long, alert), 0U);
  EXPECT_EQ(alert, Alert::record_overflow);
  const unsigned char longest[5] = {23, 3, 3, 0x41, 0x00};
  EXPECT_EQ(RecordLayer::record_size(longest, alert), kMaxRecord);
  const unsigned char too_short[5] = {23, 3, 3, 0, 16};  // a tag, no type byte
  EXPECT_EQ(RecordLayer::record_size(too_short, alert), 0U);
  EXPECT_EQ(alert, Alert::bad_record_mac);
  const unsigned char old_version[5] = {23, 3, 1, 0, 17};  // legacy_record_version is ignored
  EXPECT_EQ(RecordLayer::record_size(old_version, alert), 22U);
}

TEST(RecordLayer, AnInnerPlaintextOfOnlyZerosHasNoType) {
  auto [a, b] = make_pair(0x1301, 32);
  const Opened o = open(*b, seal(*a, ContentType::invalid, std::string(3, '\0')));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.alert, Alert::unexpected_message);
  // Zero padding after the type is stripped: "hi", type 23, then zeros, sealed as type 0.
  auto [c, d] = make_pair(0x1301, 32);
  const Opened padded = open(*d, seal(*c, ContentType::invalid, std::string("hi\x17\0\0\0", 6)));
  ASSERT_TRUE(padded.ok);
  EXPECT_EQ(padded.type, ContentType::application_data);
  EXPECT_EQ(padded.content, "hi");
}

bool handshake(RecordLayer& rl, const std::string& bytes, bool& requested, Alert& alert) {
  return rl.handshake(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), requested, alert);
}

TEST(RecordLayer, KeyUpdateSplitAcrossRecordsAndItsRequest) {
  auto [a, b] = make_pair(0x1302, 48);
  bool requested = false;
  Alert alert{};
  // KeyUpdate(update_requested) in two records: header begun in one, finished in the next.
  ASSERT_TRUE(handshake(*b, std::string("\x18\x00", 2), requested, alert));
  EXPECT_TRUE(b->handshake_pending());
  ASSERT_TRUE(handshake(*b, std::string("\x00\x01", 2), requested, alert));
  EXPECT_TRUE(b->handshake_pending());  // the body is in the next record
  ASSERT_TRUE(handshake(*b, std::string("\x01", 1), requested, alert));
  EXPECT_FALSE(b->handshake_pending());
  EXPECT_TRUE(requested);
  // b reads with the next key now; a moves its write key the same way.
  std::vector<unsigned char> update(5 + kSealOverhead);
  update.resize(a->seal_key_update(update.data()));  // (this record itself is dropped)
  const Opened o = open(*b, seal(*a, ContentType::application_data, "after"));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.content, "after");
}

TEST(RecordLayer, PostHandshakeMessagesOtherThanAWellFormedKeyUpdateAreRefused) {
  struct Case {
    std::string bytes;
    Alert alert;
  };
  const Case cases[] = {
      {std::string("\x04\x00\x00\x01\x00", 5), Alert::unexpected_message},      // NewSessionTicket
      {std::string("\x18\x00\x00\x02\x00\x00", 6), Alert::decode_error},        // length 2
      {std::string("\x18\x00\x00\x01\x02", 5), Alert::illegal_parameter},       // request 2
      {std::string("\x18\x00\x00\x01\x00\x18", 6), Alert::unexpected_message},  // data after it
      {std::string(), Alert::unexpected_message},                               // empty record
  };
  for (const Case& c : cases) {
    auto [a, b] = make_pair(0x1301, 32);
    bool requested = false;
    Alert alert{};
    EXPECT_FALSE(handshake(*b, c.bytes, requested, alert)) << c.bytes.size();
    EXPECT_EQ(alert, c.alert) << c.bytes.size();
  }
}

TEST(RecordLayer, TheWriteKeyWearsOutAfterTheInterval) {
  RecordLayer::set_key_update_interval_for_tests(3);
  auto [a, b] = make_pair(0x1303, 32);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(a->write_key_worn());
    seal(*a, ContentType::application_data, "x");
  }
  EXPECT_TRUE(a->write_key_worn());
  std::vector<unsigned char> update(5 + kSealOverhead);
  EXPECT_GT(a->seal_key_update(update.data()), 0U);
  EXPECT_FALSE(a->write_key_worn());
  RecordLayer::set_key_update_interval_for_tests(std::uint64_t{1} << 23);
  EXPECT_EQ(RecordLayer::key_update_interval(), std::uint64_t{1} << 23);
}

}  // namespace
}  // namespace socketio::net::tls13
