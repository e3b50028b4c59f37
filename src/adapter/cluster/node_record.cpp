#include "adapter/cluster/node_record.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <limits>

namespace socketio::cluster {

namespace json = boost::json;

namespace {

bool fail(std::string* why, std::string reason) {
  if (why) *why = std::move(reason);
  return false;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  for (const char c : id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A non-negative integer within max, or nullopt.
std::optional<std::int64_t> integer(const json::object& o, std::string_view key, std::int64_t max) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64())
    n = v->get_int64();
  else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(max))
    n = static_cast<std::int64_t>(v->get_uint64());
  else
    return std::nullopt;
  if (n < 0 || n > max) return std::nullopt;
  return n;
}

}  // namespace

bool check_public_url(std::string_view url, std::string* why) {
  if (url.size() > kMaxUrlBytes) return fail(why, "longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return fail(why, "not an absolute URL");
  const auto scheme = parsed->scheme();
  if (scheme != "http" && scheme != "https") return fail(why, "the scheme is not http or https");
  if (!parsed->has_authority() || parsed->host().empty()) return fail(why, "no host");
  if (parsed->has_userinfo()) return fail(why, "user info is not allowed");
  if (parsed->has_port()) {
    const auto port = parsed->port();
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535)
      return fail(why, "the port is not in 1..65535");
  }
  if (!parsed->encoded_path().empty() && parsed->encoded_path() != "/")
    return fail(why, "a path is not allowed (socket.io-client would take it for a namespace)");
  if (parsed->has_query() || parsed->has_fragment()) return fail(why, "a query or fragment is not allowed");
  return true;
}

json::object to_json(const NodeRecord& r) {
  return {{"id", r.id},         {"url", r.url},         {"clients", r.clients}, {"load", r.load},
          {"weight", r.weight}, {"started", r.started}, {"updated", r.updated}};
}

std::string encode(const NodeRecord& r) {
  return json::serialize(to_json(r));
}

std::optional<NodeRecord> decode_node_record(std::string_view text, std::string* why) {
  if (text.size() > kMaxRecordBytes) {
    fail(why, "record larger than " + std::to_string(kMaxRecordBytes) + " bytes");
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    fail(why, "not a JSON object");
    return std::nullopt;
  }
  const json::object& o = v.get_object();
  NodeRecord r;
  const json::value* id = o.if_contains("id");
  const json::value* url = o.if_contains("url");
  if (!id || !id->is_string() || !valid_id(id->get_string())) {
    fail(why, "bad id");
    return std::nullopt;
  }
  r.id = id->get_string();
  std::string url_why;
  if (!url || !url->is_string() || !check_public_url(url->get_string(), &url_why)) {
    fail(why, "bad url" + (url_why.empty() ? std::string() : ": " + url_why));
    return std::nullopt;
  }
  r.url = url->get_string();
  constexpr auto kMaxMs = std::numeric_limits<std::int64_t>::max() / 4;
  const auto clients = integer(o, "clients", std::int64_t{1} << 40);
  const auto weight = integer(o, "weight", kMaxNodeWeight);
  const auto started = integer(o, "started", kMaxMs);
  const auto updated = integer(o, "updated", kMaxMs);
  const auto load = integer(o, "load", 100);
  if (!clients || !weight || !started || !updated || !load) {
    fail(why, "missing or out-of-range field");
    return std::nullopt;
  }
  r.clients = static_cast<std::uint64_t>(*clients);
  r.weight = static_cast<std::uint32_t>(*weight);
  r.started = *started;
  r.updated = *updated;
  r.load = static_cast<std::uint32_t>(*load);
  return r;
}

}  // namespace socketio::cluster
