// The node registry's pure parts: the record a node announces (and what is refused when reading
// one back from Redis, which is untrusted input), and the pick of a node for a first contact.
#include "adapter/cluster/node_picker.hpp"
#include "adapter/cluster/node_record.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace socketio::cluster {
namespace {

NodeRecord node(std::string id, std::uint64_t clients = 0, std::uint32_t weight = 1,
                std::int64_t updated = 1) {
  NodeRecord r;
  r.url = "https://" + id + ".chat.example.com";
  r.id = std::move(id);
  r.clients = clients;
  r.weight = weight;
  r.started = 1000;
  r.updated = updated;
  return r;
}

std::map<std::string, int> spread(NodePicker& picker, int picks) {
  std::map<std::string, int> count;
  for (int i = 0; i < picks; ++i) {
    auto url = picker.pick();
    EXPECT_TRUE(url.has_value());
    if (url) ++count[*url];
  }
  return count;
}

TEST(NodeRecord, RoundTrips) {
  NodeRecord r = node("abc_DEF-123", 42, 3, 1796499588911);
  r.load = 57;
  const auto back = decode_node_record(encode(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->url, r.url);
  EXPECT_EQ(back->clients, 42u);
  EXPECT_EQ(back->load, 57u);
  EXPECT_EQ(back->weight, 3u);
  EXPECT_EQ(back->started, 1000);
  EXPECT_EQ(back->updated, 1796499588911);
}

TEST(NodeRecord, RefusesHostileRecords) {
  const std::string good = encode(node("n1"));
  const std::string cases[] = {
      "",
      "[]",
      "{",
      R"({"id":"n1"})",
      // every field present but one wrong
      R"({"id":"","url":"https://a.b","clients":0,"load":0,"weight":1,"started":1,"updated":1})",
      R"({"id":"a b","url":"https://a.b","clients":0,"load":0,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"javascript:void 0","clients":0,"load":0,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b/ns","clients":0,"load":0,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b","clients":-1,"load":0,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b","clients":0,"load":101,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b","clients":0,"load":0,"weight":1001,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b","clients":"0","load":0,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b","clients":0,"load":0.5,"weight":1,"started":1,"updated":1})",
      R"({"id":"n1","url":"https://a.b","clients":1e30,"load":0,"weight":1,"started":1,"updated":1})",
  };
  for (const std::string& c : cases) {
    std::string why;
    EXPECT_FALSE(decode_node_record(c, &why).has_value()) << c;
    EXPECT_FALSE(why.empty()) << c;
  }
  std::string big = good;
  big.insert(big.size() - 1, ",\"pad\":\"" + std::string(kMaxRecordBytes, 'x') + "\"");
  EXPECT_FALSE(decode_node_record(big).has_value());
  EXPECT_FALSE(
      decode_node_record(R"({"id":")" + std::string(kMaxIdBytes + 1, 'a') +
                         R"(","url":"https://a.b","clients":0,"load":0,"weight":1,"started":1,"updated":1})")
          .has_value());
}

TEST(NodeRecord, PublicUrlIsAnOrigin) {
  for (const char* ok : {"https://node1.chat.example.com", "http://10.0.0.1:3000", "https://[::1]:8443",
                         "https://node1.chat.example.com/"})
    EXPECT_TRUE(check_public_url(ok)) << ok;
  for (const char* bad :
       {"", "node1.chat.example.com", "ftp://a.b", "https://", "https://a.b/socket.io", "https://user:pw@a.b",
        "https://a.b?x=1", "https://a.b#f", "https://a.b:0", "https://a.b:99999"}) {
    std::string why;
    EXPECT_FALSE(check_public_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(NodePicker, SpreadsABurstEvenlyBetweenRefreshes) {
  NodePicker picker(7);
  picker.update({node("a"), node("b"), node("c")});
  const auto count = spread(picker, 300);
  ASSERT_EQ(count.size(), 3u);
  for (const auto& [url, n] : count) EXPECT_EQ(n, 100) << url;
}

TEST(NodePicker, HonoursWeightsAndConnectedClients) {
  NodePicker picker(7);
  picker.update({node("a"), node("b"), node("c", 0, 2)});
  auto count = spread(picker, 400);
  EXPECT_EQ(count["https://a.chat.example.com"], 100);
  EXPECT_EQ(count["https://b.chat.example.com"], 100);
  EXPECT_EQ(count["https://c.chat.example.com"], 200);

  // A node that already holds many clients gets none until the others catch up.
  picker.update({node("a", 50), node("b", 0), node("c", 0, 0)});
  count = spread(picker, 50);
  EXPECT_EQ(count["https://b.chat.example.com"], 50);
  EXPECT_EQ(count.count("https://c.chat.example.com"), 0u) << "weight 0: never picked";
  count = spread(picker, 20);
  EXPECT_EQ(count["https://a.chat.example.com"], 10);
  EXPECT_EQ(count["https://b.chat.example.com"], 10);
}

TEST(NodePicker, ForgetsItsPicksWhenANodeAnnouncesAgain) {
  NodePicker picker(7);
  picker.update({node("a", 0, 1, 1), node("b", 0, 1, 1)});
  spread(picker, 10);  // 5 each, counted locally
  // b announced again with its 5 new clients; a did not refresh yet (its 5 picks still count).
  picker.update({node("a", 0, 1, 1), node("b", 5, 1, 2)});
  const auto count = spread(picker, 10);
  EXPECT_EQ(count.at("https://a.chat.example.com"), 5);
  EXPECT_EQ(count.at("https://b.chat.example.com"), 5);
}

TEST(NodePicker, ExcludesLostNodesUnlessNoneIsLeft) {
  NodePicker picker(7);
  picker.update({node("a"), node("b")});
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(picker.pick({"https://a.chat.example.com"}), "https://b.chat.example.com");
  EXPECT_TRUE(picker.pick({"https://a.chat.example.com", "https://b.chat.example.com"}).has_value());
  picker.update({node("a", 0, 0)});
  EXPECT_FALSE(picker.pick().has_value()) << "only weight-0 nodes";
  picker.update({});
  EXPECT_FALSE(picker.pick().has_value());
  EXPECT_TRUE(picker.nodes().empty());
}

TEST(NodePicker, BreaksTiesAtRandom) {
  // Two pickers with other seeds (two nodes answering first contacts) do not start on one node.
  std::map<std::string, int> first;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    NodePicker picker(seed);
    picker.update({node("a"), node("b"), node("c")});
    ++first[*picker.pick()];
  }
  EXPECT_EQ(first.size(), 3u);
  for (const auto& [url, n] : first) EXPECT_GE(n, 5) << url;
}

}  // namespace
}  // namespace socketio::cluster
