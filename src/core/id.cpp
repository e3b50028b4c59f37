#include "core/id.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace socketio::core {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t kIdLength = 20;

void fill_random(char* out, std::size_t n) {
  std::array<unsigned char, kIdLength> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
  for (std::size_t i = 0; i < n; ++i) out[i] = kAlphabet[raw[i] & 63];
}

}  // namespace

std::string make_session_id(std::size_t shard, std::string_view node_tag) {
  std::string id(kIdLength, '\0');
  id[0] = kAlphabet[shard % kMaxShards];
  const std::size_t tag = std::min<std::size_t>(node_tag.size(), 4);
  std::copy_n(node_tag.begin(), tag, id.begin() + 1);
  fill_random(id.data() + 1 + tag, kIdLength - 1 - tag);
  return id;
}

std::optional<std::size_t> session_shard(std::string_view sid) {
  if (sid.size() != kIdLength) return std::nullopt;
  std::optional<std::size_t> shard;
  for (std::size_t i = 0; i < sid.size(); ++i) {
    const auto pos = kAlphabet.find(sid[i]);
    if (pos == std::string_view::npos) return std::nullopt;
    if (i == 0) shard = pos;
  }
  return shard;
}

std::string make_random_id() {
  std::string id(kIdLength, '\0');
  fill_random(id.data(), kIdLength);
  return id;
}

}  // namespace socketio::core
