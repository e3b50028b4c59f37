// libFuzzer target for the TLS 1.3 record layer (src/net/tls_record.*), what protects a
// connection's records once OpenSSL's state is freed. The input is a script of records: for each,
// an op byte, a length (2 bytes) and the content. Ops 0–3 seal the content as application data,
// alert, handshake or type 0 (so that the inner plaintext ends in zero padding) with the writer,
// optionally flip one bit (the op's high bit, the position from the next byte), and open it with
// the reader: an untouched record must open to what was sealed, a touched one must not; handshake
// content then goes through RecordLayer::handshake (a KeyUpdate moves the writer too, so both stay
// in step). Op 4 feeds the content as a raw received record (header checks, then open). The first
// byte picks the suite. Built by scripts/fuzz.sh.
#include "net/tls_record.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace socketio::net::tls13;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const std::uint16_t suites[] = {0x1301, 0x1302, 0x1303};
  static const std::size_t hashes[] = {32, 48, 32};
  const std::size_t which = data[0] % 3;
  unsigned char a[48];
  unsigned char b[48];
  for (int i = 0; i < 48; ++i) {
    a[i] = static_cast<unsigned char>(i * 3 + 1);
    b[i] = static_cast<unsigned char>(i * 5 + 2);
  }
  auto writer = RecordLayer::make(suites[which], b, a, hashes[which], 0, 0);
  auto reader = RecordLayer::make(suites[which], a, b, hashes[which], 0, 0);
  check(writer && reader);
  std::vector<unsigned char> record(kMaxRecord + 64);
  std::size_t pos = 1;
  while (pos + 3 <= size) {
    const std::uint8_t op = data[pos];
    std::size_t len = (std::size_t{data[pos + 1]} << 8) | data[pos + 2];
    pos += 3;
    if (len > size - pos) len = size - pos;
    const std::uint8_t* content = data + pos;
    pos += len;
    const int kind = op & 0x07;
    if (kind == 4) {  // a raw record as received
      if (len < kHeaderSize) continue;
      std::memcpy(record.data(), content, len);
      Alert alert{};
      const std::size_t need = RecordLayer::record_size(record.data(), alert);
      if (need == 0 || need > len) continue;
      ContentType type{};
      std::size_t got = 0;
      if (!reader->open(record.data(), need, type, got, alert)) return 0;  // the connection ends
      check(got <= kMaxPlaintext);
      continue;
    }
    if (kind > 4) continue;
    if (len > kMaxPlaintext) len = kMaxPlaintext;
    static const ContentType types[] = {ContentType::application_data, ContentType::alert,
                                        ContentType::handshake, ContentType::invalid};
    const ContentType sealed_type = types[kind];
    const RecordLayer::Part part{content, len};
    const std::size_t n = writer->seal(sealed_type, &part, 1, record.data());
    check(n == len + kSealOverhead);
    bool touched = false;
    if ((op & 0x80) != 0 && pos < size) {
      const std::size_t bit = data[pos++] % (n * 8);
      record[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      touched = true;
    }
    Alert alert{};
    const std::size_t need = RecordLayer::record_size(record.data(), alert);
    if (need != n) {
      check(touched);  // only a changed header can change the size
      return 0;
    }
    ContentType type{};
    std::size_t got = 0;
    const bool ok = reader->open(record.data(), n, type, got, alert);
    if (touched) {
      check(!ok);  // AEAD: no flipped bit goes unnoticed
      return 0;
    }
    if (sealed_type != ContentType::invalid) {
      check(ok && type == sealed_type && got == len &&
            std::memcmp(record.data() + kHeaderSize, content, len) == 0);
    } else if (!ok) {
      return 0;  // all zeros: no type
    }
    if (type == ContentType::handshake) {
      bool requested = false;
      if (!reader->handshake(record.data() + kHeaderSize, got, requested, alert)) return 0;
      if (reader->read_seq() == 0) {  // a KeyUpdate moved the reader's key: move the writer's
        unsigned char update[5 + kSealOverhead];
        check(writer->seal_key_update(update) > 0);
      }
    }
  }
  return 0;
}
