#include "adapter/cluster/forward_message.hpp"

namespace socketio::cluster {

namespace {

constexpr std::string_view kMagic = "SIOF";
constexpr char kVersion = 1;

void put_u32(std::string& out, std::uint64_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, s.size());
  out += s;
}

// Reads fields front to back; any read past the end fails the whole decode.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in_[static_cast<std::size_t>(i)]);
    in_.remove_prefix(4);
    return true;
  }
  bool u64(std::uint64_t& v) {
    std::uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = (std::uint64_t{hi} << 32) | lo;
    return true;
  }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || n > in_.size()) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string encode(const ForwardMessage& m) {
  std::string out;
  out.reserve(64 + m.target.size() + m.body.size());
  out += kMagic;
  out += kVersion;
  out += static_cast<char>(m.type);
  put_str(out, m.from);
  put_u32(out, m.id >> 32);
  put_u32(out, m.id & 0xFFFFFFFF);
  put_str(out, m.method);
  put_str(out, m.target);
  put_str(out, m.remote_address);
  out += static_cast<char>((m.secure ? 1 : 0) | (m.close ? 2 : 0));
  put_u32(out, m.status);
  put_u32(out, m.headers.size());
  for (const auto& [name, value] : m.headers) {
    put_str(out, name);
    put_str(out, value);
  }
  put_str(out, m.body);
  put_u32(out, m.frames.size());
  for (const auto& [binary, data] : m.frames) {
    out += static_cast<char>(binary ? 1 : 0);
    put_str(out, data);
  }
  return out;
}

std::optional<ForwardMessage> decode_forward_message(std::string_view bytes) {
  if (!bytes.starts_with(kMagic)) return std::nullopt;
  Reader r(bytes.substr(kMagic.size()));
  ForwardMessage m;
  std::uint8_t version = 0, type = 0, flags = 0;
  std::uint32_t status = 0, count = 0;
  if (!r.u8(version) || version != kVersion || !r.u8(type) || type == 0 || type > kMaxForwardType)
    return std::nullopt;
  m.type = static_cast<ForwardType>(type);
  if (!r.str(m.from) || !r.u64(m.id) || !r.str(m.method) || !r.str(m.target) || !r.str(m.remote_address) ||
      !r.u8(flags) || flags > 3 || !r.u32(status) || status > 65535 || !r.u32(count) || count > kMaxForwardHeaders)
    return std::nullopt;
  m.secure = flags & 1;
  m.close = flags & 2;
  m.status = status;
  m.headers.resize(count);
  for (auto& [name, value] : m.headers)
    if (!r.str(name) || !r.str(value)) return std::nullopt;
  if (!r.str(m.body) || !r.u32(count) || count > kMaxForwardFrames) return std::nullopt;
  m.frames.resize(count);
  for (auto& [binary, data] : m.frames) {
    std::uint8_t b = 0;
    if (!r.u8(b) || b > 1 || !r.str(data)) return std::nullopt;
    binary = b == 1;
  }
  if (!r.done()) return std::nullopt;
  return m;
}

}  // namespace socketio::cluster
