// The streams transport's codec (src/adapter/redis/streams_codec.hpp). The expected bytes were
// produced by the real npm @msgpack/msgpack 2.8.0 and JSON.stringify, as
// @socket.io/redis-streams-adapter 0.3.1 calls them, so a byte-exact match means Node nodes read
// what we write and the other way round.
#include "adapter/redis/streams_codec.hpp"
#include "core/base64.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

namespace socketio::redis {
namespace {

namespace json = boost::json;
using cluster::ClusterMessage;
using cluster::MessageType;

FieldsView view(const StreamEntry& e) {
  FieldsView v;
  for (const auto& [k, x] : e.fields) v.emplace_back(k, x);
  return v;
}

ClusterMessage broadcast(json::array data, std::vector<std::string> rooms, std::vector<std::string> except) {
  ClusterMessage m;
  m.type = MessageType::broadcast;
  m.uid = "u1";
  m.nsp = "/";
  m.packet.data = std::move(data);
  m.opts.rooms = std::move(rooms);
  m.opts.except = std::move(except);
  return m;
}

TEST(StreamId, ParsesStrictlyAndOrdersAsRedis) {
  EXPECT_EQ(parse_stream_id("1700000000000-0"), (StreamId{1700000000000, 0}));
  EXPECT_EQ(parse_stream_id("0-18446744073709551615"), (StreamId{0, 18446744073709551615ULL}));
  for (const char* bad : {"", "-", "1-", "-1", "1", "1-2-3", "a-1", "1-1a", " 1-1", "1-+1",
                          "18446744073709551616-0", "00000000000000000000001-0"})
    EXPECT_FALSE(parse_stream_id(bad).has_value()) << bad;
  EXPECT_LT((StreamId{1, 9}), (StreamId{2, 0}));
  EXPECT_LT((StreamId{2, 0}), (StreamId{2, 1}));
  EXPECT_EQ((StreamId{5, 7}).str(), "5-7");
  EXPECT_EQ((StreamId{5, 7}).next(), (StreamId{5, 8}));
  EXPECT_EQ((StreamId{5, 18446744073709551615ULL}).next(), (StreamId{6, 0}));
}

TEST(StreamsCodec, WhatGoesIntoTheStreamAndWhatOverPubSub) {
  auto m = broadcast(json::array{"ev"}, {}, {});
  EXPECT_FALSE(is_ephemeral(m));
  m.request_id = "abc";  // with acks
  EXPECT_TRUE(is_ephemeral(m));
  for (auto t : {MessageType::sockets_join, MessageType::sockets_leave, MessageType::disconnect_sockets}) {
    ClusterMessage x;
    x.type = t;
    EXPECT_FALSE(is_ephemeral(x));
  }
  for (auto t : {MessageType::fetch_sockets, MessageType::server_side_emit}) {
    ClusterMessage x;
    x.type = t;
    EXPECT_TRUE(is_ephemeral(x));
  }
}

TEST(StreamsCodec, BroadcastEntryIsJsonLikeTheReference) {
  const auto e = encode_stream_entry(broadcast(json::array{"ev", json::object{{"a", 1}}}, {"r"}, {"x"}));
  ASSERT_EQ(e.fields.size(), 4u);
  EXPECT_EQ(e.fields[0], (std::pair<std::string, std::string>{"uid", "u1"}));
  EXPECT_EQ(e.fields[1], (std::pair<std::string, std::string>{"nsp", "/"}));
  EXPECT_EQ(e.fields[2], (std::pair<std::string, std::string>{"type", "3"}));
  EXPECT_EQ(e.fields[3].first, "data");
  EXPECT_EQ(
      e.fields[3].second,
      R"({"packet":{"type":2,"data":["ev",{"a":1}],"nsp":"/"},"opts":{"rooms":["r"],"except":["x"],"flags":{}}})");

  const auto back = decode_stream_entry(view(e));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->type, MessageType::broadcast);
  EXPECT_EQ(back->uid, "u1");
  EXPECT_EQ(json::serialize(back->packet.data), R"(["ev",{"a":1}])");
  EXPECT_EQ(back->opts.rooms, std::vector<std::string>{"r"});
  EXPECT_EQ(back->opts.except, std::vector<std::string>{"x"});
}

TEST(StreamsCodec, BinaryBroadcastIsBase64MessagePackLikeTheReference) {
  auto m = broadcast(json::array{"ev", json::parse(R"({"_placeholder":true,"num":0})")}, {}, {});
  m.packet.attachments.push_back(std::make_shared<const std::string>("\x01\x02\x03", 3));
  m.opts.flags.volatile_ = true;
  const auto e = encode_stream_entry(m);
  ASSERT_EQ(e.fields.size(), 4u);
  EXPECT_EQ(
      e.fields[3].second,
      "gqZwYWNrZXSDpHR5cGUCpGRhdGGSomV2xAMBAgOjbnNwoS+kb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxhZ3OBqHZvbGF0aWxlww==");
  const auto back = decode_stream_entry(view(e));
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->packet.attachments.size(), 1u);
  EXPECT_EQ(*back->packet.attachments[0], std::string("\x01\x02\x03", 3));
  EXPECT_EQ(json::serialize(back->packet.data), R"(["ev",{"_placeholder":true,"num":0}])");
  EXPECT_TRUE(back->opts.flags.volatile_);
}

TEST(StreamsCodec, RoomRequestsGoIntoTheStreamAsJson) {
  ClusterMessage m;
  m.type = MessageType::sockets_join;
  m.uid = "u2";
  m.nsp = "/chat";
  m.opts.rooms = {"a"};
  m.rooms = {"b", "c"};
  const auto e = encode_stream_entry(m);
  EXPECT_EQ(e.fields[2].second, "4");
  EXPECT_EQ(e.fields[3].second, R"({"opts":{"rooms":["a"],"except":[],"flags":{}},"rooms":["b","c"]})");
  const auto back = decode_stream_entry(view(e));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->nsp, "/chat");
  EXPECT_EQ(back->rooms, (std::vector<std::string>{"b", "c"}));
}

TEST(StreamsCodec, HostileEntriesAreRefused) {
  auto fields = [](std::vector<std::pair<std::string_view, std::string_view>> f) { return FieldsView(f); };
  EXPECT_FALSE(decode_stream_entry(fields({})));
  EXPECT_FALSE(decode_stream_entry(fields({{"uid", "x"}, {"type", "3"}})));      // no nsp
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "3x"}})));     // not a number
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "0"}})));      // no such type
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "99999"}})));  // no such type
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "3"}})));      // a broadcast without data
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "3"}, {"data", "{nope"}})));
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "3"}, {"data", "not base64!"}})));
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "3"}, {"data", "kcA="}})));  // [nil]
  // Invalid UTF-8 in a MessagePack string ({"packet":{"data":["\xff"]}}).
  EXPECT_FALSE(
      decode_stream_entry(fields({{"nsp", "/"}, {"type", "3"}, {"data", "gaZwYWNrZXSBpGRhdGGRof8="}})));
  // 40 nested arrays: over the depth limit, in either form.
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::string deep_json = R"({"packet":{"data":)" + deep + "}}";
  EXPECT_FALSE(decode_stream_entry(fields({{"nsp", "/"}, {"type", "3"}, {"data", deep_json}})));
  // A placeholder naming no binary part of the entry is not relayed as one.
  const auto forged = decode_stream_entry(fields(
      {{"nsp", "/"},
       {"type", "3"},
       {"data",
        R"({"packet":{"data":["ev",{"_placeholder":true,"num":0}]},"opts":{"rooms":[],"except":[]}})"}}));
  ASSERT_TRUE(forged.has_value());
  EXPECT_TRUE(forged->packet.attachments.empty());
}

TEST(StreamsCodec, PubSubMessagesAreMessagePackLikeTheReference) {
  ClusterMessage m;
  m.type = MessageType::fetch_sockets;
  m.uid = "u1";
  m.nsp = "/";
  m.request_id = "0123456789abcdef";
  m.opts.rooms = {"r"};
  const auto bytes = encode_streams_pubsub(m);
  EXPECT_EQ(core::base64_encode(bytes),
            "hKR0eXBlB6RkYXRhgqRvcHRzg6Vyb29tc5GhcqZleGNlcHSQpWZsYWdzgKlyZXF1ZXN0SWSwMDEyMzQ1Njc4OWFiY2RlZqN1"
            "aWSidTGjbnNwoS8=");
  const auto back = cluster::decode_cluster_message(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->type, MessageType::fetch_sockets);
  EXPECT_EQ(back->request_id, "0123456789abcdef");
}

TEST(StreamsCodec, SessionsAreBase64MessagePackLikeTheReference) {
  PersistedSession s{"abc", "def", {"abc", "r1"}, json::object{{"name", "bee"}}};
  EXPECT_EQ(encode_session(s), "hKNzaWSjYWJjo3BpZKNkZWalcm9vbXOSo2FiY6JyMaRkYXRhgaRuYW1lo2JlZQ==");
  // A C++ socket's data is null until set: written as Node's default, {}.
  EXPECT_EQ(encode_session({"abc", "def", {}, nullptr}), "hKNzaWSjYWJjo3BpZKNkZWalcm9vbXOQpGRhdGGA");
  const auto back = decode_session("hKNzaWSjYWJjo3BpZKNkZWalcm9vbXOSo2FiY6JyMaRkYXRhgaRuYW1lo2JlZQ==");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->sid, "abc");
  EXPECT_EQ(back->pid, "def");
  EXPECT_EQ(back->rooms, (std::vector<std::string>{"abc", "r1"}));
  EXPECT_EQ(json::serialize(back->data), R"({"name":"bee"})");
}

TEST(StreamsCodec, HostileSessionsAreRefused) {
  EXPECT_FALSE(decode_session(""));
  EXPECT_FALSE(decode_session("!!!!"));
  EXPECT_FALSE(decode_session("kA=="));                  // []
  EXPECT_FALSE(decode_session("gaNzaWSjYWJj"));          // {sid} without pid
  EXPECT_FALSE(decode_session("gqNzaWQBo3BpZKNkZWY="));  // sid not a string
  // Binary in data (a Node Buffer) becomes null: a C++ socket's data has no place for it.
  const auto bin = decode_session("g6NzaWSjYWJjo3BpZKNkZWakZGF0YcQCAQI=");  // data: bin [1,2]
  ASSERT_TRUE(bin.has_value());
  EXPECT_TRUE(bin->data.is_null());
}

}  // namespace
}  // namespace socketio::redis
