#include "net/forwarded.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace socketio::net {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<IpNetwork> parse_network(std::string_view text) {
  const auto slash = text.find('/');
  const auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return std::nullopt;
  IpNetwork n{*ip, 128};
  if (slash == std::string_view::npos) return n;
  const auto bits = text.substr(slash + 1);
  unsigned prefix = 0;
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  const bool v4 = is_v4(*ip) && text.find(':') == std::string_view::npos;
  const unsigned max = v4 ? 32 : 128;
  if (ec != std::errc() || end != bits.data() + bits.size() || bits.empty() || prefix > max)
    return std::nullopt;
  n.prefix = v4 ? prefix + 96 : prefix;
  return n;
}

// Express's named ranges (proxy-addr).
const std::vector<std::string_view>* named_range(std::string_view name) {
  static const std::vector<std::string_view> loopback{"127.0.0.1/8", "::1/128"};
  static const std::vector<std::string_view> linklocal{"169.254.0.0/16", "fe80::/10"};
  static const std::vector<std::string_view> uniquelocal{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                         "fc00::/7"};
  if (name == "loopback") return &loopback;
  if (name == "linklocal") return &linklocal;
  if (name == "uniquelocal") return &uniquelocal;
  return nullptr;
}

// Hop i from the peer: 0 is the peer, 1 the last X-Forwarded-For entry, and so on.
class Hops {
 public:
  Hops(std::string_view peer, std::optional<std::string_view> xff) : peer_(peer), rest_(xff.value_or("")) {}
  // The next hop to the left, or nothing when the header is exhausted.
  std::optional<std::string_view> next() {
    if (!peer_done_) {
      peer_done_ = true;
      return peer_;
    }
    if (rest_.empty()) return std::nullopt;
    const auto comma = rest_.rfind(',');
    const auto item = trim(comma == std::string_view::npos ? rest_ : rest_.substr(comma + 1));
    rest_ = comma == std::string_view::npos ? std::string_view() : rest_.substr(0, comma);
    return item;
  }

 private:
  std::string_view peer_;
  std::string_view rest_;
  bool peer_done_ = false;
};

}  // namespace

bool IpNetwork::contains(const std::array<std::uint8_t, 16>& address) const noexcept {
  const unsigned full = prefix / 8;
  if (std::memcmp(bytes.data(), address.data(), full) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (bytes[full] & mask) == (address[full] & mask);
}

bool is_v4(const std::array<std::uint8_t, 16>& ip) noexcept {
  return std::all_of(ip.begin(), ip.begin() + 10, [](auto b) { return b == 0; }) && ip[10] == 0xff &&
         ip[11] == 0xff;
}

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) noexcept {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<std::uint8_t, 16> out{};
  if (inet_pton(AF_INET, buf, out.data() + 12) == 1) {
    out[10] = out[11] = 0xff;
    return out;
  }
  if (inet_pton(AF_INET6, buf, out.data()) == 1) return out;
  return std::nullopt;
}

std::optional<ProxyTrust> ProxyTrust::parse(std::string_view text, std::string& error) {
  text = trim(text);
  ProxyTrust t;
  if (text == "true" || text == "1") {
    t.enabled = true;
    return t;
  }
  if (text == "false" || text == "0" || text.empty()) return t;
  std::size_t hops = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), hops);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (hops > 64) {
      error = std::string(text) + " hops is more than 64";
      return std::nullopt;
    }
    t.enabled = true;
    t.hops = hops;
    return t;
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    std::vector<std::string_view> items{item};
    if (const auto* named = named_range(item)) items = *named;
    for (const auto i : items) {
      const auto n = parse_network(i);
      if (!n) {
        error = "'" + std::string(item) +
                "' is not true, false, a hop count, an address, a network (CIDR) or one of loopback, "
                "linklocal, uniquelocal";
        return std::nullopt;
      }
      t.networks.push_back(*n);
    }
  }
  t.enabled = !t.networks.empty();
  return t;
}

bool ProxyTrust::trusts(std::size_t index, const std::array<std::uint8_t, 16>& address) const noexcept {
  if (!enabled) return false;
  if (networks.empty()) return index < hops;
  return std::any_of(networks.begin(), networks.end(),
                     [&](const IpNetwork& n) { return n.contains(address); });
}

std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const ProxyTrust& trust) {
  if (!trust.enabled || !forwarded_for) return std::string(peer);
  Hops hops(peer, forwarded_for);
  std::string_view best = peer;
  for (std::size_t i = 0;; ++i) {
    const auto hop = hops.next();
    if (!hop) break;
    const auto ip = parse_ip(*hop);
    if (!ip) break;
    best = *hop;
    if (!trust.trusts(i, *ip)) break;
  }
  if (best.size() > 2 && best.front() == '[') best = best.substr(1, best.size() - 2);
  return std::string(best);
}

bool client_secure(bool connection_secure, std::string_view peer,
                   std::optional<std::string_view> forwarded_proto, const ProxyTrust& trust) {
  if (!trust.enabled || !forwarded_proto) return connection_secure;
  const auto ip = parse_ip(peer);
  if (!ip || !trust.trusts(0, *ip)) return connection_secure;
  const auto first = trim(forwarded_proto->substr(0, forwarded_proto->find(',')));
  return first == "https" || first == "wss";
}

}  // namespace socketio::net
