// Redis Cluster's key space (src/adapter/redis/cluster_slots.hpp): key slots against what
// `redis-cli CLUSTER KEYSLOT` answers on redis-server 7.0 (and the CRC16 check value of the
// XMODEM variant), `CLUSTER SLOTS` replies read through hiredis's own reader, MOVED/ASK errors.
#include "adapter/redis/cluster_slots.hpp"

#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace socketio::redis {
namespace {

TEST(ClusterSlots, Crc16CheckValue) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the XMODEM check value, quoted in the Redis Cluster spec
  EXPECT_EQ(crc16(""), 0);
}

TEST(ClusterSlots, KeySlotsAsClusterKeyslot) {
  // redis-cli -p <cluster node> CLUSTER KEYSLOT <key>, redis-server 7.0.15.
  EXPECT_EQ(key_slot("somekey"), 11058);
  EXPECT_EQ(key_slot("foo{hash_tag}"), 2515);
  EXPECT_EQ(key_slot("123456789"), 12739);
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("socket.io#/#lobby#"), 11869);
  EXPECT_EQ(key_slot(""), 0);
}

TEST(ClusterSlots, HashTags) {
  EXPECT_EQ(key_slot("{user1000}.following"), 3443);
  EXPECT_EQ(key_slot("{user1000}.followers"), 3443);
  EXPECT_EQ(key_slot("{}foo"), 9500);          // empty tag: the whole key
  EXPECT_EQ(key_slot("foo{}{bar}"), 8363);     // the first '{' has an empty tag: whole key
  EXPECT_EQ(key_slot("foo{{bar}}zap"), 4015);  // the tag is "{bar"
  EXPECT_EQ(key_slot("foo{bar}{zap}"), 5061);  // only the first tag counts: "bar"
  EXPECT_EQ(key_slot("socket.io#/#{room}#"), 15960);
  EXPECT_EQ(key_slot("a{b"), key_slot("a{b"));  // unclosed: the whole key
}

// A reply as hiredis's reader builds it from RESP bytes.
struct Reply {
  explicit Reply(const std::string& resp) {
    std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(), &redisReaderFree);
    redisReaderFeed(reader.get(), resp.data(), resp.size());
    void* out = nullptr;
    if (redisReaderGetReply(reader.get(), &out) == REDIS_OK) r = static_cast<redisReply*>(out);
  }
  ~Reply() {
    if (r) freeReplyObject(r);
  }
  redisReply* r = nullptr;
};

std::string bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}
std::string range(int first, int last, const std::string& host, int port, const std::string& replica = "") {
  std::string node = "*3\r\n" + bulk(host) + ":" + std::to_string(port) + "\r\n" + bulk("id");
  std::string r = "*" + std::to_string(replica.empty() ? 3 : 4) + "\r\n:" + std::to_string(first) +
                  "\r\n:" + std::to_string(last) + "\r\n" + node;
  if (!replica.empty()) r += "*3\r\n" + bulk(replica) + ":7000\r\n" + bulk("rid");
  return r;
}

TEST(ClusterSlots, ParsesClusterSlots) {
  Reply reply("*3\r\n" + range(0, 5460, "127.0.0.1", 7001, "127.0.0.9") + range(5461, 10922, "", 7002) +
              range(10923, 16383, "127.0.0.1", 7003));
  ASSERT_TRUE(reply.r);
  std::string why;
  auto map = parse_cluster_slots(reply.r, "10.0.0.1", &why);
  ASSERT_TRUE(map) << why;
  EXPECT_EQ(map->masters.size(), 3u);
  EXPECT_EQ(map->covered(), kClusterSlots);
  EXPECT_EQ(map->owner_of(0)->str(), "127.0.0.1:7001");
  EXPECT_EQ(map->owner_of(5461)->str(), "10.0.0.1:7002");  // empty host: the node that answered
  EXPECT_EQ(map->owner_of(16383)->str(), "127.0.0.1:7003");
  EXPECT_EQ(map->owner_of(key_slot("foo"))->str(), "127.0.0.1:7003");
}

TEST(ClusterSlots, SameMasterTwiceAndGaps) {
  Reply reply("*2\r\n" + range(0, 10, "h", 1) + range(20, 30, "h", 1));
  auto map = parse_cluster_slots(reply.r, "x");
  ASSERT_TRUE(map);
  EXPECT_EQ(map->masters.size(), 1u);
  EXPECT_EQ(map->covered(), 22u);
  EXPECT_EQ(map->owner_of(15), nullptr);
}

TEST(ClusterSlots, RejectsMalformed) {
  std::string why;
  const std::vector<std::string> bad = {"+OK\r\n",
                                        "*1\r\n:1\r\n",
                                        "*1\r\n" + range(5, 4, "h", 1),
                                        "*1\r\n" + range(0, 16384, "h", 1),
                                        "*1\r\n*2\r\n:0\r\n:1\r\n",
                                        "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n" + bulk("h"),
                                        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n" + bulk("h") + ":70000\r\n"};
  for (const auto& resp : bad) {
    Reply reply(resp);
    ASSERT_TRUE(reply.r) << resp;
    why.clear();
    EXPECT_FALSE(parse_cluster_slots(reply.r, "x", &why)) << resp;
    EXPECT_FALSE(why.empty());
  }
  EXPECT_FALSE(parse_cluster_slots(nullptr, "x"));
}

TEST(ClusterSlots, BoundsTheMasters) {
  std::string resp = "*" + std::to_string(kMaxClusterMasters + 1) + "\r\n";
  for (std::size_t i = 0; i <= kMaxClusterMasters; ++i)
    resp += range(static_cast<int>(i), static_cast<int>(i), "h", static_cast<int>(i + 1));
  Reply reply(resp);
  std::string why;
  EXPECT_FALSE(parse_cluster_slots(reply.r, "x", &why));
  EXPECT_NE(why.find("masters"), std::string::npos);
}

TEST(ClusterSlots, Redirects) {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to.str(), "127.0.0.1:6381");
  auto ask = parse_redirect("ASK 16383 ::1:7002");
  ASSERT_TRUE(ask);
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->to.host, "::1");
  EXPECT_EQ(ask->to.port, 7002);
  auto here = parse_redirect("MOVED 1 :7000");  // Redis 7 when the endpoint is unknown
  ASSERT_TRUE(here);
  EXPECT_EQ(here->to.host, "");
  for (const char* bad : {"ERR unknown", "MOVED", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h",
                          "MOVED 1 h:0", "MOVED 1 h:99999", "ASK 1  h:1x", "CLUSTERDOWN The cluster is down"})
    EXPECT_FALSE(parse_redirect(bad)) << bad;
}

}  // namespace
}  // namespace socketio::redis
