#include "eio/parser/packet.hpp"

#include "core/base64.hpp"

#include <algorithm>

namespace socketio::eio {
namespace {

constexpr char kSeparator = '\x1e';
// 19 decimal digits always fit in 64 bits, and no real body is anywhere near 10^19 bytes, so a
// longer prefix is garbage we can refuse before doing arithmetic on it.
constexpr std::size_t kMaxLengthDigits = 19;
constexpr unsigned char kXhr2Terminator = 0xFF;

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "engine.io parser"; }
  std::string message(int ev) const override {
    switch (static_cast<ParseError>(ev)) {
      case ParseError::ok:
        return "success";
      case ParseError::empty_packet:
        return "empty packet";
      case ParseError::unknown_type:
        return "unknown packet type";
      case ParseError::bad_base64:
        return "binary packet with invalid base64";
      case ParseError::payload_too_large:
        return "payload too large";
      case ParseError::too_many_packets:
        return "too many packets in one payload";
      case ParseError::bad_length:
        return "invalid length prefix";
      case ParseError::bad_binary_frame:
        return "malformed binary framing";
    }
    return "unknown engine.io parser error";
  }
};

char type_char(PacketType t) noexcept {
  return static_cast<char>('0' + static_cast<int>(t));
}

bool parse_type(char c, PacketType& t) noexcept {
  if (c < '0' || c > '6') return false;
  t = static_cast<PacketType>(c - '0');
  return true;
}

bool is_continuation(char c) noexcept {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

struct CharExtent {
  std::size_t bytes;
  std::size_t units;
};

// One character of (possibly invalid) UTF-8 as JavaScript would see it after decoding: a complete
// 4-byte sequence is a surrogate pair (2 units). Invalid bytes become one U+FFFD each in JS; we
// count a truncated sequence as a single unit, which is close enough for framing and never reads
// past the end.
CharExtent char_at(std::string_view s, std::size_t pos) noexcept {
  const auto lead = static_cast<unsigned char>(s[pos]);
  std::size_t trailing = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    trailing = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    trailing = 2;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    trailing = 3;
  }
  std::size_t n = 1;
  while (n <= trailing && pos + n < s.size() && is_continuation(s[pos + n])) ++n;
  return {n, (trailing == 3 && n == 4) ? 2u : 1u};
}

void append_decimal(std::size_t v, std::string& out) {
  char buf[24];
  std::size_t n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n != 0) out += buf[--n];
}

// XHR2 framing writes each decimal digit as a raw byte 0..9, not as ASCII.
void append_raw_digits(std::size_t v, std::string& out) {
  const std::size_t start = out.size();
  append_decimal(v, out);
  for (std::size_t i = start; i < out.size(); ++i) out[i] = static_cast<char>(out[i] - '0');
}

std::size_t base64_length(std::size_t n) noexcept {
  return 4 * ((n + 2) / 3);
}

std::error_code decode_v3_string_body(std::string_view body, std::vector<Packet>& out, const Limits& limits) {
  std::size_t pos = 0;
  std::size_t count = 0;
  while (pos < body.size()) {
    std::size_t want = 0;
    std::size_t digits = 0;
    for (; pos < body.size() && body[pos] != ':'; ++pos) {
      const char c = body[pos];
      if (c < '0' || c > '9' || ++digits > kMaxLengthDigits) return ParseError::bad_length;
      want = want * 10 + static_cast<std::size_t>(c - '0');
    }
    if (pos == body.size() || digits == 0) return ParseError::bad_length;
    ++pos;  // ':'
    const std::size_t start = pos;
    std::size_t units = 0;
    while (units < want) {
      if (pos == body.size()) return ParseError::bad_length;
      const CharExtent c = char_at(body, pos);
      units += c.units;
      pos += c.bytes;
    }
    // The length ended between the two halves of a surrogate pair.
    if (units != want) return ParseError::bad_length;
    // The reference skips "0:" segments (it is what an empty payload encodes to).
    if (want == 0) continue;
    if (++count > limits.max_packets) return ParseError::too_many_packets;
    Packet p;
    if (auto ec = decode_packet_v3(body.substr(start, pos - start), p)) return ec;
    out.push_back(std::move(p));
  }
  return {};
}

std::error_code decode_v3_binary_body(std::string_view body, std::vector<Packet>& out, const Limits& limits) {
  std::size_t pos = 0;
  std::size_t count = 0;
  while (pos < body.size()) {
    const auto flag = static_cast<unsigned char>(body[pos++]);
    if (flag > 1) return ParseError::bad_binary_frame;
    std::size_t length = 0;
    std::size_t digits = 0;
    for (;;) {
      if (pos == body.size()) return ParseError::bad_binary_frame;
      const auto d = static_cast<unsigned char>(body[pos++]);
      if (d == kXhr2Terminator) break;
      if (d > 9 || ++digits > kMaxLengthDigits) return ParseError::bad_length;
      length = length * 10 + d;
    }
    if (digits == 0 || length > body.size() - pos) return ParseError::bad_length;
    const std::string_view msg = body.substr(pos, length);
    pos += length;
    if (++count > limits.max_packets) return ParseError::too_many_packets;
    Packet p;
    if (flag == 0) {
      if (auto ec = decode_packet_v3(msg, p)) return ec;
    } else {
      if (msg.empty() || msg[0] != static_cast<char>(PacketType::message)) {
        return ParseError::bad_binary_frame;
      }
      p.type = PacketType::message;
      p.binary = true;
      p.data.assign(msg.substr(1));
    }
    out.push_back(std::move(p));
  }
  return {};
}

}  // namespace

const std::error_category& parse_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(ParseError e) noexcept {
  return {static_cast<int>(e), parse_category()};
}

std::size_t utf16_length(std::string_view utf8) noexcept {
  std::size_t units = 0;
  for (std::size_t pos = 0; pos < utf8.size();) {
    const CharExtent c = char_at(utf8, pos);
    units += c.units;
    pos += c.bytes;
  }
  return units;
}

std::error_code decode_packet(std::string_view text, Packet& out) {
  if (text.empty()) return ParseError::empty_packet;
  if (text[0] == 'b') {
    auto bytes = core::base64_decode(text.substr(1));
    if (!bytes) return ParseError::bad_base64;
    out.type = PacketType::message;
    out.binary = true;
    out.data = std::move(*bytes);
    return {};
  }
  if (!parse_type(text[0], out.type)) return ParseError::unknown_type;
  out.binary = false;
  out.data.assign(text.substr(1));
  return {};
}

std::error_code decode_packet_v3(std::string_view text, Packet& out) {
  if (text.empty()) return ParseError::empty_packet;
  if (text[0] != 'b') return decode_packet(text, out);
  // Only messages carry binary data; a base64 ping or open means nothing to either side.
  if (text.size() < 2 || text[1] != type_char(PacketType::message)) return ParseError::unknown_type;
  auto bytes = core::base64_decode(text.substr(2));
  if (!bytes) return ParseError::bad_base64;
  out.type = PacketType::message;
  out.binary = true;
  out.data = std::move(*bytes);
  return {};
}

std::error_code decode_binary_frame(std::string_view bytes, int protocol, Packet& out) {
  if (protocol == 3) {
    if (bytes.empty() || bytes[0] != static_cast<char>(PacketType::message)) {
      return ParseError::bad_binary_frame;
    }
    bytes.remove_prefix(1);
  }
  out.type = PacketType::message;
  out.binary = true;
  out.data.assign(bytes);
  return {};
}

std::error_code decode_payload(std::string_view body, std::vector<Packet>& out, const Limits& limits) {
  if (body.size() > limits.max_payload) return ParseError::payload_too_large;
  if (body.empty()) return ParseError::empty_packet;
  const auto packets = static_cast<std::size_t>(std::count(body.begin(), body.end(), kSeparator)) + 1;
  if (packets > limits.max_packets) return ParseError::too_many_packets;
  out.reserve(out.size() + packets);
  for (std::size_t start = 0;;) {
    const std::size_t end = std::min(body.find(kSeparator, start), body.size());
    Packet p;
    if (auto ec = decode_packet(body.substr(start, end - start), p)) return ec;
    out.push_back(std::move(p));
    if (end == body.size()) break;
    start = end + 1;
  }
  return {};
}

std::error_code decode_payload_v3(std::string_view body, bool binary_body, std::vector<Packet>& out,
                                  const Limits& limits) {
  if (body.size() > limits.max_payload) return ParseError::payload_too_large;
  if (body.empty()) return ParseError::empty_packet;
  return binary_body ? decode_v3_binary_body(body, out, limits) : decode_v3_string_body(body, out, limits);
}

void encode_packet(const PacketView& p, std::string& out) {
  if (p.binary) {
    out += 'b';
    core::base64_encode(p.data, out);
    return;
  }
  out += type_char(p.type);
  out += p.data;
}

void encode_packet_v3(const PacketView& p, std::string& out) {
  if (p.binary) {
    out += 'b';
    out += type_char(p.type);
    core::base64_encode(p.data, out);
    return;
  }
  out += type_char(p.type);
  out += p.data;
}

void encode_payload(std::span<const PacketView> packets, std::string& out) {
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i != 0) out += kSeparator;
    encode_packet(packets[i], out);
  }
}

bool encode_payload_v3(std::span<const PacketView> packets, bool supports_binary, std::string& out) {
  const bool any_binary =
      std::any_of(packets.begin(), packets.end(), [](const PacketView& p) { return p.binary; });
  if (supports_binary && any_binary) {
    for (const PacketView& p : packets) {
      out += static_cast<char>(p.binary ? 1 : 0);
      append_raw_digits(1 + p.data.size(), out);
      out += static_cast<char>(kXhr2Terminator);
      out += p.binary ? static_cast<char>(p.type) : type_char(p.type);
      out += p.data;
    }
    return true;
  }
  // What the reference writes for an empty payload; its decoder skips it.
  if (packets.empty()) {
    out += "0:";
    return false;
  }
  for (const PacketView& p : packets) {
    // A base64 body is ASCII, so its UTF-16 length is its byte length.
    append_decimal(p.binary ? 2 + base64_length(p.data.size()) : 1 + utf16_length(p.data), out);
    out += ':';
    encode_packet_v3(p, out);
  }
  return false;
}

}  // namespace socketio::eio
