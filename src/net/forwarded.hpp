// Who the client is when proxies stand in front: the address from X-Forwarded-For read from the
// right, the way Express's "trust proxy" (proxy-addr) does it. The hops are [peer, XFF last entry,
// ..., XFF first entry]; walking from the peer, every hop that is a trusted proxy is skipped, and
// the first untrusted one is the client. Reading from the left would let any client name its own
// address (every proxy appends, none removes what the client sent), which defeats per-address
// limits and misleads logs. Pure (no sockets); a ProxyTrust is a value, read-only after start-up,
// safe to share between threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::net {

// An IPv4 or IPv6 network; IPv4 is held as IPv4-mapped IPv6 so both compare the same way.
struct IpNetwork {
  std::array<std::uint8_t, 16> bytes{};
  unsigned prefix = 128;
  bool contains(const std::array<std::uint8_t, 16>& address) const noexcept;
};

// "10.0.0.1", "::1", "[::1]", IPv4-mapped IPv6 (normalised): the 16 bytes, or nothing.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view text) noexcept;
// An IPv4 address as parse_ip() holds it (::ffff:a.b.c.d).
bool is_v4(const std::array<std::uint8_t, 16>& ip) noexcept;

struct ProxyTrust {
  // Off: X-Forwarded-* are ignored and the client is the TCP peer.
  bool enabled = false;
  // With no networks: how many hops from the peer are proxies (Express's trust proxy = N; "true"
  // is 1 here: the peer is the proxy, the last X-Forwarded-For entry is the client).
  std::size_t hops = 1;
  // When set: exactly these addresses are proxies, whatever their number (hops is ignored).
  std::vector<IpNetwork> networks;

  // "true"/"false", a hop count ("2"; "0" is off), or a comma-separated list of addresses,
  // networks (CIDR) and Express's names loopback, linklocal, uniquelocal. Nothing + error
  // (what is wrong with the text) when it is none of these.
  static std::optional<ProxyTrust> parse(std::string_view text, std::string& error);

  // Trusted hop i (0 = the TCP peer)?
  bool trusts(std::size_t index, const std::array<std::uint8_t, 16>& address) const noexcept;
};

// The client's address: peer when trust is off or the peer is not a trusted proxy, else the
// first untrusted hop of X-Forwarded-For from the right. An entry that is not an IP address ends
// the walk (the last trusted hop is then the best that is known).
std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const ProxyTrust& trust);

// Whether the client used TLS: the connection's own flag, or, when the peer is a trusted proxy,
// the first entry of X-Forwarded-Proto.
bool client_secure(bool connection_secure, std::string_view peer,
                   std::optional<std::string_view> forwarded_proto, const ProxyTrust& trust);

}  // namespace socketio::net
