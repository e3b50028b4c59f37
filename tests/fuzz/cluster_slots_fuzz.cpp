// libFuzzer target for what the Redis Cluster router reads from Redis (src/adapter/redis/
// cluster_slots.*): the input is fed to hiredis's reply reader (RESP bytes, as from the socket)
// and, when it makes a reply, to parse_cluster_slots; the whole input also goes to parse_redirect
// (a MOVED/ASK error) and key_slot. Invariants: a parsed map has 16384 owners, each -1 or a valid
// master index, at most kMaxClusterMasters distinct masters with a port; a redirect's slot is in
// range and its port not 0; every key slot is under 16384. Built by scripts/fuzz.sh.
#include "adapter/redis/cluster_slots.hpp"
#include "fuzz_check.hpp"

#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using socketio::fuzz::check;

// hiredis 0.14's reader allocates an aggregate's element array from its declared count before the
// elements arrive (that is hiredis, from the Redis server the adapter was pointed at, not what is
// fuzzed here): inputs declaring huge aggregates are skipped so that they do not exhaust memory.
bool huge_aggregate(std::string_view in) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '*') continue;
    std::size_t n = 0, j = i + 1;
    while (j < in.size() && in[j] >= '0' && in[j] <= '9' && n <= 65536)
      n = n * 10 + static_cast<std::size_t>(in[j++] - '0');
    if (n > 65536) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socketio::redis;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(key_slot(input) < kClusterSlots, "key slot in range");
  if (auto r = parse_redirect(input)) check(r->slot < kClusterSlots && r->to.port != 0, "redirect in range");

  if (huge_aggregate(input)) return 0;
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, input.data(), input.size());
  void* out = nullptr;
  if (redisReaderGetReply(reader, &out) == REDIS_OK && out) {
    auto* reply = static_cast<redisReply*>(out);
    if (auto map = parse_cluster_slots(reply, "127.0.0.1")) {
      check(map->owner.size() == kClusterSlots, "16384 owners");
      check(map->masters.size() <= kMaxClusterMasters, "masters bounded");
      for (auto o : map->owner)
        check(o >= -1 && (o < 0 || static_cast<std::size_t>(o) < map->masters.size()), "owner index valid");
      for (const auto& m : map->masters) check(m.port != 0 && !m.host.empty(), "master address");
    }
    freeReplyObject(reply);
  }
  redisReaderFree(reader);
  return 0;
}
