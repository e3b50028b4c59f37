// parse_redis_url: the --redis URL forms the adapter accepts.
#include "adapter/redis/redis_client.hpp"

#include <gtest/gtest.h>

namespace socketio::redis {
namespace {

TEST(RedisUrl, HostPortDefaults) {
  auto ep = parse_redis_url("redis://127.0.0.1:6380");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 0);
  EXPECT_TRUE(ep->password.empty());
  ep = parse_redis_url("redis://cache");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->host, "cache");
  EXPECT_EQ(ep->port, 6379);
}

TEST(RedisUrl, CredentialsAndDatabase) {
  auto ep = parse_redis_url("redis://alice:s%40cret@h:1/3");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->user, "alice");
  EXPECT_EQ(ep->password, "s@cret");
  EXPECT_EQ(ep->db, 3);
  ep = parse_redis_url("redis://:pw@h");
  ASSERT_TRUE(ep);
  EXPECT_TRUE(ep->user.empty());
  EXPECT_EQ(ep->password, "pw");
}

TEST(RedisUrl, Rejects) {
  std::string why;
  EXPECT_FALSE(parse_redis_url("http://h", &why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(parse_redis_url("rediss://h"));
  EXPECT_FALSE(parse_redis_url("redis://h/x"));
  EXPECT_FALSE(parse_redis_url("not a url"));
}

}  // namespace
}  // namespace socketio::redis
