#include "net/ws_extensions.hpp"

#include "net/http_message.hpp"

#include <algorithm>

namespace socketio::net::ws {

namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// A cursor over the header (RFC 6455 §9.1 with RFC 7230's list, token and quoted-string rules).
// Every step moves forward, so the whole parse is linear in the header's length.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  void skip_ows() {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  std::string_view token() {
    const std::size_t from = i_;
    while (!done() && is_tchar(s_[i_])) ++i_;
    return s_.substr(from, i_ - from);
  }
  // A quoted-string, unescaped into out; false if unterminated or with a byte not allowed.
  bool quoted(std::string& out) {
    if (!eat('"')) return false;
    while (!done()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (done()) return false;
        out += s_[i_++];
      } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        return false;
      } else {
        out += c;
      }
    }
    return false;
  }
  // Skips to just after the next comma outside a quoted-string (or to the end).
  void skip_element() {
    bool in_quotes = false;
    while (!done()) {
      const char c = s_[i_++];
      if (in_quotes && c == '\\' && !done()) {
        ++i_;
      } else if (c == '"') {
        in_quotes = !in_quotes;
      } else if (c == ',' && !in_quotes) {
        return;
      }
    }
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

// One permessage-deflate offer's parameters (RFC 7692 §7.1).
struct Offer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;  // 0: absent
  bool client_max_window_bits = false;
  int client_bits_value = 0;  // 0: the parameter came without a value
  bool acceptable = true;     // false: a parameter declines the offer
};

// "A decimal integer value without leading zeroes between 8 to 15, inclusive" (§7.1.2).
int window_bits(std::string_view v) {
  if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// Applies one parameter to the offer; false if the offer must be declined (unknown, repeated,
// a value where none is allowed, a missing or invalid value).
bool apply_param(Offer& o, std::string_view name, const std::optional<std::string>& value, unsigned& seen) {
  constexpr std::string_view kNames[] = {"server_no_context_takeover", "client_no_context_takeover",
                                         "server_max_window_bits", "client_max_window_bits"};
  const auto it = std::find(std::begin(kNames), std::end(kNames), name);
  if (it == std::end(kNames)) return false;
  const unsigned bit = 1u << (it - std::begin(kNames));
  if (seen & bit) return false;
  seen |= bit;
  switch (it - std::begin(kNames)) {
    case 0:
      o.server_no_context_takeover = true;
      return !value;
    case 1:
      o.client_no_context_takeover = true;
      return !value;
    case 2:
      o.server_max_window_bits = value ? window_bits(*value) : 0;
      return o.server_max_window_bits != 0;
    default:
      o.client_max_window_bits = true;
      if (!value) return true;
      o.client_bits_value = window_bits(*value);
      return o.client_bits_value != 0;
  }
}

// Parses the parameters of one element after its name, up to the comma that ends it (consumed).
// nullopt: the element is malformed (the cursor is somewhere inside it).
std::optional<Offer> parse_params(Cursor& c) {
  Offer offer;
  unsigned seen = 0;
  for (;;) {
    c.skip_ows();
    if (c.done() || c.eat(',')) break;
    if (!c.eat(';')) return std::nullopt;
    c.skip_ows();
    const std::string_view name = c.token();
    if (name.empty()) return std::nullopt;
    c.skip_ows();
    std::optional<std::string> value;
    if (c.eat('=')) {
      c.skip_ows();
      value.emplace();
      if (c.peek() == '"') {
        if (!c.quoted(*value) || !is_token(*value)) return std::nullopt;  // §9.1: a token once unquoted
      } else {
        *value = c.token();
        if (value->empty()) return std::nullopt;
      }
    }
    // An unacceptable parameter declines the offer, but the rest of it is still parsed so that
    // the next element starts at the right place.
    if (!apply_param(offer, name, value, seen)) offer.acceptable = false;
  }
  return offer;
}

std::optional<DeflateAgreement> accept(const Offer& o, const DeflateConfig& config) {
  // zlib makes no raw deflate stream with an 8-bit window (deflateInit2 takes 9..15 there).
  if (o.server_max_window_bits != 0 && o.server_max_window_bits < 9) return std::nullopt;
  DeflateAgreement a;
  a.server_no_context_takeover = config.server_no_context_takeover || o.server_no_context_takeover;
  a.server_window_bits = o.server_max_window_bits != 0
                             ? std::min(config.server_max_window_bits, o.server_max_window_bits)
                             : config.server_max_window_bits;
  bool client_takeover = !config.client_no_context_takeover && !o.client_no_context_takeover;
  bool limit_client = false;
  if (client_takeover) {
    if (o.client_max_window_bits) {
      const int offered = o.client_bits_value != 0 ? o.client_bits_value : 15;
      a.client_window_bits = std::min(config.client_max_window_bits, offered);
      limit_client = a.client_window_bits < 15;
    } else if (config.client_max_window_bits < 15) {
      client_takeover = false;  // the client's window cannot be bounded: no context to keep
    }
  }
  a.client_no_context_takeover = !client_takeover;
  if (!client_takeover) a.client_window_bits = 15;  // inflated message by message, any window

  a.response = "permessage-deflate";
  if (a.server_no_context_takeover) a.response += "; server_no_context_takeover";
  if (a.client_no_context_takeover) a.response += "; client_no_context_takeover";
  if (o.server_max_window_bits != 0)
    a.response += "; server_max_window_bits=" + std::to_string(a.server_window_bits);
  if (limit_client) a.response += "; client_max_window_bits=" + std::to_string(a.client_window_bits);
  return a;
}

}  // namespace

std::optional<DeflateAgreement> negotiate_deflate(std::string_view extensions, const DeflateConfig& config) {
  if (!config.enabled) return std::nullopt;
  Cursor c(extensions);
  while (!c.done()) {
    c.skip_ows();
    if (c.eat(',')) continue;  // empty list elements are allowed (RFC 7230 §7)
    const std::string_view name = c.token();
    if (name.empty()) {
      c.skip_element();
      continue;
    }
    if (!iequals(name, "permessage-deflate")) {
      c.skip_element();
      continue;
    }
    const auto offer = parse_params(c);
    if (!offer) {
      c.skip_element();
      continue;
    }
    if (!offer->acceptable) continue;
    if (auto a = accept(*offer, config)) return a;
  }
  return std::nullopt;
}

}  // namespace socketio::net::ws
