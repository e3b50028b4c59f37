#include "sio/parser/packet.hpp"

#include "core/percent.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

namespace socketio::sio {
namespace {

namespace json = boost::json;

// Event names the reference refuses to receive (they mean something to the sockets themselves).
constexpr std::array<std::string_view, 6> kReservedEvents = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "socket.io parser"; }
  std::string message(int ev) const override {
    switch (static_cast<ParseError>(ev)) {
      case ParseError::ok:
        return "success";
      case ParseError::empty:
        return "empty packet";
      case ParseError::unknown_type:
        return "unknown packet type";
      case ParseError::bad_attachments:
        return "illegal attachments";
      case ParseError::bad_namespace:
        return "invalid namespace";
      case ParseError::bad_ack_id:
        return "invalid ack id";
      case ParseError::bad_json:
        return "invalid JSON";
      case ParseError::invalid_payload:
        return "invalid payload";
      case ParseError::unexpected_binary:
        return "got binary data when not reconstructing a packet";
      case ParseError::unexpected_text:
        return "got plaintext data when reconstructing a packet";
      case ParseError::bad_placeholder:
        return "illegal attachment placeholder";
      case ParseError::too_large:
        return "packet too large";
      case ParseError::bad_msgpack:
        return "invalid MessagePack packet";
    }
    return "unknown socket.io parser error";
  }
};

// Builds a json::value like boost::json::parser, except for doubles: Boost 1.81 converts decimal
// text to double approximately (1.2222222222222223e+26 comes out one ulp off), while JSON.parse
// rounds correctly. A relay must hand on the number the client sent, so the text is converted again
// with std::from_chars, which rounds correctly.
class PreciseHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  PreciseHandler(unsigned char* temp, std::size_t size) : st(json::storage_ptr(), temp, size) {}

  json::value_stack st;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number_.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number_.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    // The text arrives in parts only when the input is fed in pieces; we feed it whole.
    std::string_view text(s.data(), s.size());
    if (!number_.empty()) {
      number_.append(s.data(), s.size());
      text = number_;
    }
    double precise = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), precise);
    // Out of range keeps Boost's value: infinity or zero, as JSON.parse gives.
    st.push_double(r.ec == std::errc{} && r.ptr == text.data() + text.size() ? precise : d);
    number_.clear();
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::string number_;
};

// The code unit of the six-character unicode escape (backslash, u, four hex digits) at text[i], or -1.
int unicode_escape_at(std::string_view text, std::size_t i) noexcept {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') return -1;
  int u = 0;
  for (std::size_t k = i + 2; k < i + 6; ++k) {
    const int h = core::hex_digit(text[k]);
    if (h < 0) return -1;
    u = u * 16 + h;
  }
  return u;
}

// JSON.stringify writes a string cut inside a surrogate pair with a lone surrogate escape (ud83d) and
// JSON.parse takes it back, but UTF-8 cannot hold it and Boost refuses it. Rather than drop the
// client, do what any UTF-8 boundary (TextEncoder, Buffer) does: make it U+FFFD. Returns the
// rewritten text, or nothing when there was no lone surrogate.
std::optional<std::string> replace_lone_surrogates(std::string_view text) {
  std::optional<std::string> out;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') continue;
    const int u = unicode_escape_at(text, i);
    if (u < 0) {
      ++i;  // some other escape, an escaped backslash included: its second character starts nothing
      continue;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
      const int low = unicode_escape_at(text, i + 6);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        i += 11;
        continue;
      }
    } else if (u < 0xDC00 || u > 0xDFFF) {
      i += 5;
      continue;
    }
    if (!out) out.emplace();
    out->append(text.substr(copied, i - copied));
    out->append("\\ufffd");
    copied = i + 6;
    i += 5;
  }
  if (out) out->append(text.substr(copied));
  return out;
}

bool parse_json_once(std::string_view text, std::size_t max_depth, json::value& out) {
  json::parse_options options;
  options.max_depth = max_depth;
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  json::basic_parser<PreciseHandler> parser(options, temp, sizeof temp);
  parser.handler().st.reset();
  json::error_code ec;
  const std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || n != text.size() || !parser.done()) return false;
  out = parser.handler().st.release();
  return true;
}

// boost::json::parse with PreciseHandler; false on any error (syntax, trailing data, depth).
bool parse_json(std::string_view text, std::size_t max_depth, json::value& out) {
  if (parse_json_once(text, max_depth, out)) return true;
  const auto repaired = replace_lone_surrogates(text);
  return repaired && parse_json_once(*repaired, max_depth, out);
}

bool is_binary_type(PacketType t) noexcept {
  return t == PacketType::binary_event || t == PacketType::binary_ack;
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// n = n * 10 + digit, refusing to wrap.
bool push_digit(std::uint64_t& n, char c) noexcept {
  const auto d = static_cast<std::uint64_t>(c - '0');
  if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
  n = n * 10 + d;
  return true;
}

bool is_reserved_event(std::string_view name) noexcept {
  for (std::string_view r : kReservedEvents) {
    if (r == name) return true;
  }
  return false;
}

// The reference's isPayloadValid. Like the reference, only a payload that is present is checked:
// an EVENT or ACK without data is valid (the socket layer dispatches nothing / acks with no
// arguments); a CONNECT_ERROR without its reason is refused (no client sends one).
bool payload_valid(PacketType type, const json::value* v) noexcept {
  switch (type) {
    case PacketType::connect:
      return v == nullptr || v->is_object();
    case PacketType::disconnect:
      return v == nullptr;
    case PacketType::connect_error:
      return v != nullptr && (v->is_string() || v->is_object());
    case PacketType::event:
    case PacketType::binary_event: {
      if (v == nullptr) return true;
      if (!v->is_array() || v->get_array().empty()) return false;
      const json::value& name = v->get_array().front();
      return name.is_number() || (name.is_string() && !is_reserved_event(name.get_string()));
    }
    case PacketType::ack:
    case PacketType::binary_ack:
      return v == nullptr || v->is_array();
  }
  return false;
}

void append_decimal(std::uint64_t v, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Number.prototype.toString for a double (ECMA-262 Number::toString): the shortest digits that
// round-trip, written plainly when the decimal exponent is in [-6, 21) and in exponent form otherwise.
void append_js_double(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON.stringify(NaN) and of the infinities
    return;
  }
  if (d == 0) {
    out += '0';  // also -0
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  if (s.front() == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  const std::size_t e = s.find('e');
  char digits[32];
  std::size_t k = 0;
  for (char c : s.substr(0, e)) {
    if (c != '.') digits[k++] = c;
  }
  std::string_view exp = s.substr(e + 1);
  const bool exp_negative = exp.front() == '-';
  exp.remove_prefix(1);  // to_chars always writes the sign
  int x = 0;
  std::from_chars(exp.data(), exp.data() + exp.size(), x);
  const int n = (exp_negative ? -x : x) + 1;  // value = 0.digits * 10^n
  const auto ik = static_cast<int>(k);
  if (ik <= n && n <= 21) {
    out.append(digits, k);
    out.append(static_cast<std::size_t>(n - ik), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits + n, k - static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out.append(digits, k);
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits + 1, k - 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    append_decimal(static_cast<std::uint64_t>(std::abs(n - 1)), out);
  }
}

// JSON.stringify's string quoting: only '"', '\\' and control characters are escaped.
void append_js_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_js_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64: {
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
      out.append(buf, r.ptr);
      break;
    }
    case json::kind::uint64:
      append_decimal(v.get_uint64(), out);
      break;
    case json::kind::double_:
      append_js_double(v.get_double(), out);
      break;
    case json::kind::string:
      append_js_string(v.get_string(), out);
      break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_js_json(e, out);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const json::key_value_pair& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_js_string(kv.key(), out);
        out += ':';
        append_js_json(kv.value(), out);
      }
      out += '}';
      break;
    }
  }
}

bool contains_double(const json::value& v) noexcept {
  switch (v.kind()) {
    case json::kind::double_:
      return true;
    case json::kind::array:
      for (const json::value& e : v.get_array()) {
        if (contains_double(e)) return true;
      }
      return false;
    case json::kind::object:
      for (const json::key_value_pair& kv : v.get_object()) {
        if (contains_double(kv.value())) return true;
      }
      return false;
    default:
      return false;
  }
}

bool integral_index(const json::value& v, std::size_t& out) noexcept {
  switch (v.kind()) {
    case json::kind::int64:
      if (v.get_int64() < 0) return false;
      out = static_cast<std::size_t>(v.get_int64());
      return true;
    case json::kind::uint64:
      out = static_cast<std::size_t>(v.get_uint64());
      return true;
    case json::kind::double_: {
      // JavaScript has only doubles: {"num":1.0} is placeholder 1 to the reference.
      const double d = v.get_double();
      if (!(d >= 0 && d <= 9007199254740992.0) || std::floor(d) != d) return false;
      out = static_cast<std::size_t>(d);
      return true;
    }
    default:
      return false;
  }
}

bool marks_placeholder(const json::object& o) noexcept {
  const json::value* flag = o.if_contains("_placeholder");
  return flag != nullptr && flag->is_bool() && flag->get_bool();
}

}  // namespace

const std::error_category& parse_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(ParseError e) noexcept {
  return {static_cast<int>(e), parse_category()};
}

bool is_valid_payload(PacketType type, const json::value* data) noexcept {
  return payload_valid(type, data);
}

std::error_code decode(std::string_view text, Packet& out, const Limits& limits) {
  if (text.size() > limits.max_packet_size) return ParseError::too_large;
  if (text.empty()) return ParseError::empty;
  if (text[0] < '0' || text[0] > '6') return ParseError::unknown_type;
  out.type = static_cast<PacketType>(text[0] - '0');
  out.nsp = "/";
  out.id.reset();
  out.data = nullptr;
  out.attachments = 0;
  std::size_t i = 1;

  if (is_binary_type(out.type)) {
    std::uint64_t n = 0;
    const std::size_t start = i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      if (!push_digit(n, text[i])) return ParseError::bad_attachments;
    }
    // Like the reference (4.2.x): at least one attachment, at most the configured maximum.
    if (i == start || i == text.size() || text[i] != '-') return ParseError::bad_attachments;
    if (n < 1 || n > limits.max_attachments) return ParseError::bad_attachments;
    out.attachments = static_cast<std::size_t>(n);
    ++i;
  }

  // The namespace runs from '/' to the first ',' or to the end ("40/random" is valid).
  if (i < text.size() && text[i] == '/') {
    const std::size_t comma = text.find(',', i);
    if (comma == std::string_view::npos) {
      out.nsp.assign(text.substr(i));
      i = text.size();
    } else {
      out.nsp.assign(text.substr(i, comma - i));
      i = comma + 1;
    }
  }

  if (i < text.size() && is_digit(text[i])) {
    std::uint64_t id = 0;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      if (!push_digit(id, text[i])) return ParseError::bad_ack_id;
    }
    out.id = id;
  }

  const bool has_data = i < text.size();
  if (has_data) {
    if (!parse_json(text.substr(i), limits.max_depth, out.data)) return ParseError::bad_json;
  }
  if (!payload_valid(out.type, has_data ? &out.data : nullptr)) return ParseError::invalid_payload;
  // The reference only finds a bad placeholder once the last attachment has arrived; the count
  // is known from the header already, so refuse before buffering any attachment.
  if (is_binary_type(out.type) && !placeholders_valid(out.data, out.attachments)) {
    return ParseError::bad_placeholder;
  }
  return {};
}

void write_json(const json::value& v, std::string& out) {
  // Boost's serializer is the fast path; it differs from JSON.stringify only in how it writes
  // doubles ("1.5E0", and non-finite values), so values holding one take the slow path.
  if (contains_double(v)) {
    append_js_json(v, out);
    return;
  }
  json::serializer sr;
  sr.reset(&v);
  while (!sr.done()) {
    const std::size_t start = out.size();
    const std::size_t chunk = std::max<std::size_t>(256, out.capacity() - start);
    out.resize(start + chunk);
    const json::string_view written = sr.read(out.data() + start, chunk);
    out.resize(start + written.size());
  }
}

void encode(PacketType type, std::string_view nsp, std::optional<std::uint64_t> id,
            const boost::json::value* data, std::size_t attachments, std::string& out) {
  out += static_cast<char>('0' + static_cast<int>(type));
  if (is_binary_type(type)) {
    append_decimal(attachments, out);
    out += '-';
  }
  // The reference writes the ',' after any namespace other than "/", even with nothing after it
  // ("41/custom,").
  if (!nsp.empty() && nsp != "/") {
    out += nsp;
    out += ',';
  }
  if (id) append_decimal(*id, out);
  if (data != nullptr && !data->is_null()) write_json(*data, out);
}

bool is_placeholder(const boost::json::value& v, std::size_t& num) noexcept {
  const json::object* o = v.if_object();
  if (o == nullptr || o->size() != 2 || !marks_placeholder(*o)) return false;
  const json::value* n = o->if_contains("num");
  return n != nullptr && integral_index(*n, num);
}

boost::json::value make_placeholder(std::size_t num) {
  json::object o;
  o.reserve(2);
  o.emplace("_placeholder", true);
  o.emplace("num", static_cast<std::uint64_t>(num));
  return o;
}

bool placeholders_valid(const boost::json::value& v, std::size_t count) noexcept {
  switch (v.kind()) {
    case json::kind::array:
      for (const json::value& e : v.get_array()) {
        if (!placeholders_valid(e, count)) return false;
      }
      return true;
    case json::kind::object: {
      const json::object& o = v.get_object();
      // Anything claiming to be a placeholder must be a well-formed one in range: the socket layer
      // substitutes attachments[num] for it without looking again.
      if (marks_placeholder(o)) {
        std::size_t num = 0;
        return is_placeholder(v, num) && num < count;
      }
      for (const json::key_value_pair& kv : o) {
        if (!placeholders_valid(kv.value(), count)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

void Decoder::reset() noexcept {
  packet_ = Packet{};
  attachments_.clear();
  awaiting_ = false;
}

Decoder::Result Decoder::feed_text(std::string_view text) {
  if (awaiting_) {
    reset();
    return {Status::error, ParseError::unexpected_text};
  }
  attachments_.clear();
  if (auto ec = decode(text, packet_, limits_)) {
    reset();
    return {Status::error, ec};
  }
  if (is_binary_type(packet_.type) && packet_.attachments > 0) {
    awaiting_ = true;
    attachments_.reserve(packet_.attachments);
    return {Status::need_more, {}};
  }
  return {Status::packet, {}};
}

Decoder::Result Decoder::feed_binary(std::string_view bytes) {
  if (!awaiting_) return {Status::error, ParseError::unexpected_binary};
  // Each attachment is its own Engine.IO message, bounded on its own like the text part.
  if (bytes.size() > limits_.max_packet_size) {
    reset();
    return {Status::error, ParseError::too_large};
  }
  attachments_.emplace_back(bytes);
  if (attachments_.size() < packet_.attachments) return {Status::need_more, {}};
  // decode() already checked every placeholder against the announced count, which is now the
  // number of attachments held.
  awaiting_ = false;
  return {Status::packet, {}};
}

}  // namespace socketio::sio
