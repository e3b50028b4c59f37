// libFuzzer target for what the streams transport decodes from Redis (src/adapter/redis/
// streams_codec.*): the input is one stream entry, its fields as name\0value\0name\0value...,
// fed to decode_stream_entry; the whole input also goes to decode_session (a sio:session:<pid>
// value) and parse_stream_id (a client's offset). Invariants: a decoded entry re-encodes and
// decodes again to the same message kind, sender, namespace and request id; every placeholder left
// in decoded data names an attachment; a decoded session round-trips; a parsed id prints and
// parses back to itself. Built by scripts/fuzz.sh.
#include "adapter/redis/msgpack_codec.hpp"
#include "adapter/redis/streams_codec.hpp"
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

FieldsView split_fields(std::string_view in) {
  FieldsView fields;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size(); ++i)
    if (i == in.size() || in[i] == '\0') {
      parts.push_back(in.substr(start, i - start));
      start = i + 1;
    }
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) fields.emplace_back(parts[i], parts[i + 1]);
  return fields;
}

void entry(std::string_view in) {
  const auto m = decode_stream_entry(split_fields(in));
  if (!m) return;
  check(!m->nsp.empty(), "an entry has a namespace");
  check_placeholders(m->packet.data, m->packet.attachments.size());
  check_placeholders(m->args.values(), m->args.attachments().size());
  const auto again = encode_stream_entry(*m);
  FieldsView view;
  for (const auto& [k, v] : again.fields) view.emplace_back(k, v);
  const auto back = decode_stream_entry(view);
  check(back.has_value(), "a re-encoded entry decodes");
  check(back->type == m->type && back->uid == m->uid && back->nsp == m->nsp,
        "kind, sender, namespace round trip");
  check(back->request_id == m->request_id, "request id round trip");
  // Its pub/sub form decodes too (a request relayed over pub/sub carries the same message).
  check(cluster::decode_cluster_message(encode_streams_pubsub(*m)).has_value(), "pub/sub form decodes");
}

void session(std::string_view in) {
  const auto s = decode_session(in);
  if (!s) return;
  check(!s->sid.empty() && !s->pid.empty(), "a session has its ids");
  const auto back = decode_session(encode_session(*s));
  check(back.has_value(), "a re-encoded session decodes");
  check(back->sid == s->sid && back->pid == s->pid && back->rooms == s->rooms, "session round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  entry(in);
  session(in);
  if (const auto id = parse_stream_id(in)) {
    const auto back = parse_stream_id(id->str());
    check(back && *back == *id, "stream id round trip");
    check(id->next() > *id || id->ms == UINT64_MAX, "next() is after");
  }
  return 0;
}
