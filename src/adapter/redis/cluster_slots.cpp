#include "adapter/redis/cluster_slots.hpp"

#include <hiredis/hiredis.h>

#include <array>
#include <charconv>

namespace socketio::redis {

namespace {

constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i << 8;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = static_cast<std::uint16_t>(crc);
  }
  return table;
}
constexpr auto kCrc16Table = make_crc16_table();

std::string_view text(const redisReply* r) {
  return {r->str, r->len};
}

bool to_port(std::string_view s, std::uint16_t& port) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

std::uint16_t crc16(std::string_view data) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char c : data)
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ c) & 0xFF]);
  return crc;
}

std::uint16_t key_slot(std::string_view key) noexcept {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) & (kClusterSlots - 1);
}

std::size_t SlotMap::covered() const noexcept {
  std::size_t n = 0;
  for (auto o : owner) n += o >= 0;
  return n;
}

std::optional<SlotMap> parse_cluster_slots(const redisReply* reply, std::string_view asked_host,
                                           std::string* error) {
  auto fail = [&](const char* why) -> std::optional<SlotMap> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return fail("not an array");
  SlotMap map;
  map.owner.assign(kClusterSlots, -1);
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3)
      return fail("a range is not [first, last, master...]");
    const redisReply* first = range->element[0];
    const redisReply* last = range->element[1];
    const redisReply* node = range->element[2];
    if (first->type != REDIS_REPLY_INTEGER || last->type != REDIS_REPLY_INTEGER || first->integer < 0 ||
        last->integer < first->integer || last->integer >= kClusterSlots)
      return fail("a slot range is out of 0..16383");
    if (node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
        node->element[0]->type != REDIS_REPLY_STRING || node->element[1]->type != REDIS_REPLY_INTEGER ||
        node->element[1]->integer <= 0 || node->element[1]->integer > 65535)
      return fail("a master is not [host, port, ...]");
    // "?" (Redis 7: unknown endpoint) and "" both mean: where this reply came from.
    std::string_view host = text(node->element[0]);
    if (host.empty() || host == "?") host = asked_host;
    ClusterAddress addr{std::string(host), static_cast<std::uint16_t>(node->element[1]->integer)};
    std::size_t index = 0;
    while (index < map.masters.size() && !(map.masters[index] == addr)) ++index;
    if (index == map.masters.size()) {
      if (map.masters.size() == kMaxClusterMasters) return fail("more masters than kMaxClusterMasters");
      map.masters.push_back(std::move(addr));
    }
    for (auto s = first->integer; s <= last->integer; ++s)
      map.owner[static_cast<std::size_t>(s)] = static_cast<std::int16_t>(index);
  }
  return map;
}

std::optional<Redirect> parse_redirect(std::string_view error) noexcept {
  Redirect r;
  if (error.starts_with("MOVED "))
    error.remove_prefix(6);
  else if (error.starts_with("ASK "))
    error.remove_prefix(4), r.ask = true;
  else
    return std::nullopt;
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  auto [end, ec] = std::from_chars(error.data(), error.data() + space, slot);
  if (ec != std::errc() || end != error.data() + space || slot >= kClusterSlots) return std::nullopt;
  r.slot = static_cast<std::uint16_t>(slot);
  const auto endpoint = error.substr(space + 1);
  const auto colon = endpoint.rfind(':');  // last: an IPv6 host has colons of its own
  if (colon == std::string_view::npos || !to_port(endpoint.substr(colon + 1), r.to.port)) return std::nullopt;
  try {
    r.to.host = std::string(endpoint.substr(0, colon));
  } catch (...) {
    return std::nullopt;
  }
  return r;
}

}  // namespace socketio::redis
