// libFuzzer target for what the Redis adapter decodes from Redis (src/adapter/redis and the
// cluster messages of src/adapter/cluster): the input is one message payload as it arrives on a
// channel, fed to every decoder (classic broadcast, request and response; ClusterAdapter message;
// the raw MessagePack and JSON readers). Invariants: whatever decodes re-encodes and
// decodes to the same value; every placeholder left in decoded data names an attachment; every
// number the adapter uses passes checked_uint. Built by scripts/fuzz.sh.
#include "adapter/cluster/cluster_message.hpp"
#include "adapter/redis/classic_codec.hpp"
#include "adapter/redis/msgpack_codec.hpp"
#include "redis_checks.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
using namespace socketio;
using namespace socketio::redis;

using fuzz::check;
using fuzz::check_placeholders;

std::size_t count_placeholders(const json::value& v) {
  if (v.is_array()) {
    std::size_t n = 0;
    for (const auto& e : v.get_array()) n += count_placeholders(e);
    return n;
  }
  if (!v.is_object()) return 0;
  const auto& o = v.get_object();
  const auto* flag = o.if_contains("_placeholder");
  if (flag && flag->is_bool() && flag->get_bool() && o.size() == 2 && o.contains("num")) return 1;
  std::size_t n = 0;
  for (const auto& kv : o) n += count_placeholders(kv.value());
  return n;
}

void options(const json::value& v) {
  const BroadcastOptions o = options_from_json(v);
  if (o.flags.timeout) check(o.flags.timeout->count() >= 0, "timeout is not negative");
  const BroadcastOptions back = options_from_json(options_to_json(o, true));
  check(back.rooms == o.rooms && back.except == o.except, "options round trip");
  check(back.flags.timeout == o.flags.timeout && back.flags.volatile_ == o.flags.volatile_,
        "flags round trip");
}

// A decoded message re-encodes (in the format it came in) and decodes again to the same kind.
void message(const std::optional<cluster::ClusterMessage>& m) {
  if (!m) return;
  check_placeholders(m->packet.data, m->packet.attachments.size());
  check_placeholders(m->args.values(), m->args.attachments().size());
  if (m->type == cluster::MessageType::fetch_sockets_response)
    for (const auto& s : m->sockets) check(!s.id.empty() && s.handshake.issued >= 0, "sockets are checked");
  if (m->type == cluster::MessageType::all_rooms || m->type == cluster::MessageType::all_rooms_response)
    return;
  auto back = cluster::decode_cluster_message(cluster::encode_cluster_message(*m));
  check(back.has_value(), "a re-encoded cluster message decodes");
  check(back->type == m->type, "type round trip");
  using T = cluster::MessageType;
  const bool has_id = m->type != T::sockets_join && m->type != T::sockets_leave &&
                      m->type != T::disconnect_sockets && m->type != T::heartbeat &&
                      m->type != T::initial_heartbeat && m->type != T::adapter_close;
  if (has_id) check(back->request_id == m->request_id, "request id round trip");
  check(back->client_count == m->client_count, "client count round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  message(cluster::decode_cluster_message(in));
  message(redis::decode_classic_request(in, "/"));
  message(redis::decode_classic_response(in, "/"));
  if (!in.empty() && in[0] == '{') {
    boost::system::error_code ec;
    const json::value v = json::parse(in, ec);
    if (ec || !v.is_object()) return 0;
    if (const auto* o = v.get_object().if_contains("opts")) options(*o);
    if (const auto* d = v.get_object().if_contains("data"); d && d->is_object())
      if (const auto* o = d->get_object().if_contains("opts")) options(*o);
    (void)checked_uint(v.get_object().if_contains("type"), 100);
    return 0;
  }

  if (auto msg = decode_broadcast(in)) {
    check_placeholders(msg->packet.data, msg->packet.attachments.size());
    options(json::value(options_to_json(msg->opts, true)));
    const std::string again = encode_broadcast(msg->uid, msg->packet, msg->opts);
    auto back = decode_broadcast(again);
    check(back.has_value(), "a re-encoded broadcast decodes");
    check(back->uid == msg->uid && back->packet.nsp == msg->packet.nsp, "uid and nsp round trip");
    // Bins elsewhere (uid, options) are not relayed; each placeholder of the data is written as
    // its bin (a placeholder-shaped map naming a real bin too).
    if (!msg->packet.attachments.empty())
      check(back->packet.attachments.size() == count_placeholders(msg->packet.data),
            "attachments round trip");
  }

  std::vector<Bytes> attachments;
  if (auto v = decode_msgpack(in, attachments)) {
    check_placeholders(*v, attachments.size());
    std::string again;
    encode_msgpack(again, *v, attachments);
    std::vector<Bytes> att2;
    auto back = decode_msgpack(again, att2);
    // With bins, a placeholder-shaped map naming a real one is written as that bin (possibly past
    // the attachment limit); without, encoding is the exact inverse of decoding.
    if (attachments.empty()) {
      check(back.has_value(), "re-encoded MessagePack decodes");
      check(att2.empty(), "no bin appears");
    } else if (back) {
      // Bins lost to a duplicate map key (the last value wins, as in JavaScript) are not written.
      check(att2.size() == count_placeholders(*v), "bin count round trip");
    }
    if (v->is_object())
      if (const auto* d = v->get_object().if_contains("data"); d && d->is_object())
        if (const auto* o = d->get_object().if_contains("opts")) options(*o);
  }
  return 0;
}
