#include "adapter/redis/redis_adapter.hpp"

#include "adapter/redis/msgpack_codec.hpp"
#include "adapter/redis/redis_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace socketio::redis {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

enum RequestType : std::int64_t {
  kSockets = 0,
  kAllRooms = 1,
  kRemoteJoin = 2,
  kRemoteLeave = 3,
  kRemoteDisconnect = 4,
  kRemoteFetch = 5,
  kServerSideEmit = 6,
  kBroadcast = 7,
  kBroadcastClientCount = 8,
  kBroadcastAck = 9,
};

// The sharded adapter's messages (socket.io-adapter 2.5 ClusterAdapter MessageType).
enum ClusterMessageType : std::int64_t {
  kcBroadcast = 3,
  kcSocketsJoin = 4,
  kcSocketsLeave = 5,
  kcDisconnectSockets = 6,
  kcFetchSockets = 7,
  kcFetchSocketsResponse = 8,
  kcServerSideEmit = 9,
  kcServerSideEmitResponse = 10,
  kcBroadcastClientCount = 11,
  kcBroadcastAck = 12,
};

// Like uid2(6) in the Node adapter: a short random id, unique enough among a cluster's nodes.
std::string random_id(std::size_t n = 6) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
  std::string s(n, ' ');
  for (auto& c : s) c = alphabet[pick(rng)];
  return s;
}

// Like randomBytes(8).toString("hex") in socket.io-adapter's ClusterAdapter (uids, request ids).
std::string hex_id() {
  static const char digits[] = "0123456789abcdef";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t r = rng();
  std::string s(16, '0');
  for (std::size_t i = 0; i < 16; ++i) s[i] = digits[(r >> (4 * i)) & 0xF];
  return s;
}

json::array to_json(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object to_json(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

std::map<std::string, std::string> string_map(const json::value* v) {
  std::map<std::string, std::string> m;
  if (!v || !v->is_object()) return m;
  for (const auto& kv : v->get_object()) {
    if (kv.value().is_string())
      m[std::string(kv.key())] = std::string(kv.value().get_string());
    else
      m[std::string(kv.key())] = json::serialize(kv.value());
  }
  return m;
}

std::string str_of(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Same shape as a Node socket's handshake in a REMOTE_FETCH response.
json::object socket_to_json(const SocketInfo& s) {
  const auto& h = s.handshake;
  json::object hs;
  hs["headers"] = to_json(h.headers);
  hs["time"] = h.time;
  hs["address"] = h.address;
  hs["xdomain"] = h.xdomain;
  hs["secure"] = h.secure;
  hs["issued"] = h.issued;
  hs["url"] = h.url;
  hs["query"] = to_json(h.query);
  hs["auth"] = h.auth;
  json::object o;
  o["id"] = s.id;
  o["handshake"] = std::move(hs);
  o["rooms"] = to_json(s.rooms);
  o["data"] = s.data;
  return o;
}

std::optional<SocketInfo> socket_from_json(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  SocketInfo s;
  s.id = str_of(o, "id");
  if (s.id.empty()) return std::nullopt;
  if (const auto* hv = o.if_contains("handshake"); hv && hv->is_object()) {
    const auto& h = hv->get_object();
    s.handshake.headers = string_map(h.if_contains("headers"));
    s.handshake.query = string_map(h.if_contains("query"));
    if (const auto* a = h.if_contains("auth"); a && a->is_object()) s.handshake.auth = a->get_object();
    s.handshake.address = str_of(h, "address");
    s.handshake.time = str_of(h, "time");
    s.handshake.url = str_of(h, "url");
    if (const auto* x = h.if_contains("secure"); x && x->is_bool()) s.handshake.secure = x->get_bool();
    if (const auto* x = h.if_contains("xdomain"); x && x->is_bool()) s.handshake.xdomain = x->get_bool();
    if (const auto* x = h.if_contains("issued"); x && x->is_number())
      s.handshake.issued = static_cast<std::int64_t>(x->to_number<double>());
  }
  if (const auto* r = o.if_contains("rooms"); r && r->is_array()) {
    for (const auto& room : r->get_array())
      if (room.is_string()) s.rooms.emplace_back(room.get_string());
  }
  if (const auto* d = o.if_contains("data")) s.data = *d;
  return s;
}

// Requests and responses are JSON when they start with '{', MessagePack otherwise (BROADCAST).
std::optional<json::value> decode_request(std::string_view payload, std::vector<Bytes>& attachments) {
  if (!payload.empty() && payload[0] == '{') {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec) return std::nullopt;
    return v;
  }
  return decode_msgpack(payload, attachments);
}

}  // namespace

// Sums the client counts of every node of a broadcast with acks, then reports the total once.
// Parts arrive from the calling shard (this node) and the Redis thread (the others).
struct ClientCountSum {
  std::mutex mutex;
  std::size_t total = 0;
  std::size_t parts = 0;
  std::optional<std::size_t> expected_parts;
  std::function<void(std::size_t)> done;

  void add(std::size_t n) {
    update([&] {
      total += n;
      ++parts;
    });
  }
  void expect(std::size_t n) {
    update([&] { expected_parts = n; });
  }

 private:
  template <class Fn>
  void update(Fn&& fn) {
    std::function<void(std::size_t)> cb;
    std::size_t n = 0;
    {
      std::lock_guard lock(mutex);
      fn();
      if (!done || !expected_parts || parts < *expected_parts) return;
      cb = std::move(done);
      done = nullptr;
      n = total;
    }
    cb(n);
  }
};

// One namespace's state as the Redis thread sees it. The adapter and the hub share it, so a
// message arriving while the namespace is being destroyed finds `local == nullptr`.
struct AdapterCore {
  // A fetchSockets or serverSideEmit waiting for the other nodes.
  struct Pending {
    std::int64_t type = 0;      // kRemoteFetch or kServerSideEmit
    std::int64_t expected = 0;  // answers from other nodes
    std::int64_t got = 0;
    std::vector<SocketInfo> sockets;
    AckResponses responses;
    std::function<void(std::vector<SocketInfo>)> on_sockets;
    std::function<void(bool, AckResponses)> on_responses;
    std::unique_ptr<asio::steady_timer> timer;
  };
  // A broadcast with acks: client counts and acks from the other nodes.
  struct AckRequest {
    std::shared_ptr<ClientCountSum> count;
    std::function<void(Args)> on_ack;
    std::unique_ptr<asio::steady_timer> timer;
  };

  std::mutex mutex;
  LocalNamespace* local = nullptr;
  RedisMode mode = RedisMode::classic;
  std::string nsp;
  std::string uid;
  // classic: channel = <key>#<nsp>#, plus the request/response channels.
  // sharded: channel = <key>#<nsp>#, response_channel = <key>#<nsp>#<uid>#.
  std::string channel, request_channel, response_channel, specific_response_channel;
  std::atomic<std::size_t> server_count{1};
  std::unordered_map<std::string, Pending> pending;  // Redis thread only
  std::unordered_map<std::string, AckRequest> acks;  // Redis thread only
  std::set<std::string> room_channels;               // sharded: SSUBSCRIBEd rooms, Redis thread only

  bool sharded() const noexcept { return mode == RedisMode::sharded; }
  std::string new_request_id() const { return sharded() ? hex_id() : random_id(); }

  template <class Fn>
  void with_local(Fn&& fn) {
    std::lock_guard lock(mutex);
    if (local) fn(*local);
  }
};

class RedisHub {
 public:
  explicit RedisHub(RedisConfig config) : config_(std::move(config)), work_(asio::make_work_guard(io_)) {
    std::string error;
    auto ep = parse_redis_url(config_.url, &error);
    if (!ep) throw std::invalid_argument("redis url '" + config_.url + "': " + error);
    if (!config_.counters) config_.counters = std::make_shared<RedisCounters>();
    pub_ = std::make_unique<RedisClient>(io_, *ep, "pub");
    sub_ = std::make_unique<RedisClient>(io_, *ep, "sub");
    sub_->set_message_handler(
        [this](std::string_view channel, std::string_view payload) { dispatch(channel, payload); });
    pub_->set_connect_handler([this] { report_unpublished(); });
    asio::post(io_, [this] {
      pub_->start();
      sub_->start();
    });
    thread_ = std::thread([this] { io_.run(); });
  }

  ~RedisHub() {
    asio::post(io_, [this] {
      closing_ = true;  // the replies failed by stop() below must not call back into the server
      pub_->stop();
      sub_->stop();
      for (auto& c : cores_) {
        c->pending.clear();
        c->acks.clear();
      }
      io_.stop();
    });
    work_.reset();
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // the last owner was a callback on our own thread; io_ is stopping
    } else if (thread_.joinable()) {
      thread_.join();
    }
  }

  const RedisConfig& config() const noexcept { return config_; }
  RedisCounters& counters() noexcept { return *config_.counters; }
  asio::io_context& io() noexcept { return io_; }
  bool sharded() const noexcept { return config_.mode == RedisMode::sharded; }

  template <class Fn>
  void post(Fn&& fn) {
    asio::post(io_, std::forward<Fn>(fn));
  }

  // Any thread but the Redis one.
  bool wait_until_subscribed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      // Posted, so it runs after every subscription posted before (one thread, FIFO).
      std::promise<bool> ready;
      auto answer = ready.get_future();
      post([this, &ready] { ready.set_value(pub_->connected() && sub_->subscribed()); });
      if (answer.get()) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void add(const std::shared_ptr<AdapterCore>& core) {
    {
      std::lock_guard lock(mutex_);
      cores_.push_back(core);
    }
    post([this, core] {
      if (core->sharded()) {
        sub_->ssubscribe(core->channel);
        sub_->ssubscribe(core->response_channel);
        return;
      }
      sub_->psubscribe(core->channel + "*");
      sub_->subscribe(core->request_channel);
      sub_->subscribe(core->response_channel);
      sub_->subscribe(core->specific_response_channel);
    });
  }

  void remove(const std::shared_ptr<AdapterCore>& core) {
    {
      std::lock_guard lock(mutex_);
      std::erase(cores_, core);
    }
    post([this, core] {
      core->pending.clear();
      core->acks.clear();
      if (core->sharded()) {
        sub_->sunsubscribe(core->channel);
        sub_->sunsubscribe(core->response_channel);
        for (const auto& c : core->room_channels) sub_->sunsubscribe(c);
        core->room_channels.clear();
        return;
      }
      sub_->punsubscribe(core->channel + "*");
      sub_->unsubscribe(core->request_channel);
      sub_->unsubscribe(core->response_channel);
      sub_->unsubscribe(core->specific_response_channel);
    });
  }

  // Sharded mode: a room of this node gets its own channel (subscriptionMode "dynamic").
  void room_changed(const std::shared_ptr<AdapterCore>& core, const std::string& room, bool created) {
    post([this, core, channel = core->channel + room + "#", created] {
      if (created) {
        if (core->room_channels.insert(channel).second) sub_->ssubscribe(channel);
      } else if (core->room_channels.erase(channel)) {
        sub_->sunsubscribe(channel);
      }
    });
  }

  // Any thread. Counted as failed at once while Redis is down: nothing is queued for later, as a
  // broadcast delivered minutes late is worse than one lost.
  void publish(std::string channel, std::string payload) {
    post([this, channel = std::move(channel), payload = std::move(payload)] {
      auto& c = counters();
      const bool sent =
          pub_->command({sharded() ? "SPUBLISH" : "PUBLISH", channel, payload}, [&c](const redisReply* r) {
            if (r && r->type != REDIS_REPLY_ERROR)
              c.published.fetch_add(1, std::memory_order_relaxed);
            else
              c.publish_failed.fetch_add(1, std::memory_order_relaxed);
          });
      if (!sent) c.publish_failed.fetch_add(1, std::memory_order_relaxed);
    });
  }

  // Redis thread: how many nodes serve this namespace (this one included); -1 when Redis cannot
  // tell. classic: PUBSUB NUMSUB <request channel>; sharded: PUBSUB SHARDNUMSUB <channel>.
  void count_servers(const std::shared_ptr<AdapterCore>& core, std::function<void(std::int64_t)> done) {
    const std::string_view verb = core->sharded() ? "SHARDNUMSUB" : "NUMSUB";
    const std::string& channel = core->sharded() ? core->channel : core->request_channel;
    const bool sent = pub_->command({"PUBSUB", verb, channel}, [this, core, done](const redisReply* r) {
      if (closing_) return;
      if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[1]->type == REDIS_REPLY_INTEGER) {
        const auto n = r->element[1]->integer;
        if (n > 0) core->server_count = static_cast<std::size_t>(n);
        done(n);
      } else {
        done(-1);
      }
    });
    if (!sent) done(-1);
  }

  // Redis thread: registers a request waiting for `expected` answers from other nodes.
  AdapterCore::Pending& start_request(const std::shared_ptr<AdapterCore>& core, const std::string& id,
                                      std::int64_t type, std::int64_t expected,
                                      std::chrono::milliseconds timeout) {
    auto& p = core->pending[id];
    p.type = type;
    p.expected = expected;
    p.timer = std::make_unique<asio::steady_timer>(io_, timeout);
    p.timer->async_wait([core, id](boost::system::error_code ec) {
      if (ec) return;
      auto it = core->pending.find(id);
      if (it == core->pending.end()) return;
      auto pending = std::move(it->second);
      core->pending.erase(it);
      spdlog::warn("redis: {} timed out ({} of {} nodes answered)",
                   pending.type == kRemoteFetch ? "fetchSockets" : "serverSideEmit", pending.got,
                   pending.expected);
      if (pending.on_sockets) pending.on_sockets(std::move(pending.sockets));
      if (pending.on_responses) pending.on_responses(true, std::move(pending.responses));
    });
    return p;
  }

  // Redis thread: one answer to a pending request; completes it when it was the last.
  void answer(AdapterCore& core, const std::string& id, const json::value* sockets,
              const json::value* response, std::vector<Bytes> attachments) {
    auto it = core.pending.find(id);
    if (it == core.pending.end()) return;  // someone else's, or timed out
    auto& p = it->second;
    ++p.got;
    if (p.type == kRemoteFetch) {
      if (sockets && sockets->is_array())
        for (const auto& x : sockets->get_array())
          if (auto info = socket_from_json(x)) p.sockets.push_back(std::move(*info));
    } else {
      json::array a;
      a.push_back(response ? *response : json::value(nullptr));
      p.responses.emplace_back(std::move(a), std::move(attachments));
    }
    if (p.got < p.expected) return;
    auto done = std::move(p);
    core.pending.erase(it);
    if (done.on_sockets) done.on_sockets(std::move(done.sockets));
    if (done.on_responses) done.on_responses(false, std::move(done.responses));
  }

  // Redis thread: a client count or an ack for one of our broadcasts with acks.
  void ack_answer(AdapterCore& core, const std::string& id, const json::value* count,
                  const json::value* packet, std::vector<Bytes> attachments) {
    auto it = core.acks.find(id);
    if (it == core.acks.end()) return;
    if (count) {
      if (count->is_number()) it->second.count->add(static_cast<std::size_t>(count->to_number<double>()));
      return;
    }
    json::array a;
    a.push_back(packet ? *packet : json::value(nullptr));
    it->second.on_ack(Args(std::move(a), std::move(attachments)));
  }

  std::shared_ptr<AdapterCore> shared(AdapterCore& core) {
    std::lock_guard lock(mutex_);
    for (auto& c : cores_)
      if (c.get() == &core) return c;
    return {};
  }

 private:
  void dispatch(std::string_view channel, std::string_view payload);
  void on_broadcast(AdapterCore& core, std::string_view payload);
  void on_request(AdapterCore& core, std::string_view payload);
  void on_response(AdapterCore& core, std::string_view payload);
  void on_cluster_message(AdapterCore& core, std::string_view payload);
  void respond(AdapterCore& core, const json::object& response) {
    publish(core.response_channel, json::serialize(response));
  }
  // Sharded: a response goes to the requester's own channel.
  void respond_to(AdapterCore& core, const std::string& requester, std::int64_t type, json::object data,
                  const std::vector<Bytes>& attachments = {}) {
    publish(core.channel + requester + "#", encode_cluster(core, type, std::move(data), attachments));
  }
  void report_unpublished() {
    const auto failed = counters().publish_failed.load(std::memory_order_relaxed);
    if (failed > reported_failed_)
      spdlog::warn(
          "redis: {} message(s) could not be published while Redis was unreachable (local delivery went on)",
          failed - reported_failed_);
    reported_failed_ = failed;
  }

 public:
  // A ClusterAdapter message: {type, data, uid, nsp}; MessagePack when it carries binary.
  static std::string encode_cluster(const AdapterCore& core, std::int64_t type, json::object data,
                                    const std::vector<Bytes>& attachments) {
    json::object msg;
    msg["type"] = type;
    msg["data"] = std::move(data);
    msg["uid"] = core.uid;
    msg["nsp"] = core.nsp;
    if (attachments.empty()) return json::serialize(msg);
    std::string out;
    encode_msgpack(out, msg, attachments);
    return out;
  }

 private:
  RedisConfig config_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<RedisClient> pub_;
  std::unique_ptr<RedisClient> sub_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<AdapterCore>> cores_;
  std::uint64_t reported_failed_ = 0;  // Redis thread
  bool closing_ = false;               // Redis thread
  std::thread thread_;
};

void RedisHub::dispatch(std::string_view channel, std::string_view payload) {
  auto& c = counters();
  if (payload.size() > config_.max_message_size) {
    c.dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis: dropped a {}-byte message on {} (limit {})", payload.size(), channel,
                 config_.max_message_size);
    return;
  }
  std::vector<std::shared_ptr<AdapterCore>> cores;
  {
    std::lock_guard lock(mutex_);
    cores = cores_;
  }
  for (auto& core : cores) {
    if (core->sharded()) {
      // The response channel, the namespace's channel and its rooms' channels all start with
      // <key>#<nsp>#; the message says what it is.
      if (channel.starts_with(core->channel)) return on_cluster_message(*core, payload);
      continue;
    }
    // Most specific first: the response channel is a prefix of the per-uid one.
    if (channel.starts_with(core->response_channel)) return on_response(*core, payload);
    if (channel == core->request_channel) return on_request(*core, payload);
    if (channel.starts_with(core->channel)) return on_broadcast(*core, payload);
  }
}

void RedisHub::on_broadcast(AdapterCore& core, std::string_view payload) {
  auto& c = counters();
  auto msg = decode_broadcast(payload);
  if (!msg) {
    c.dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis: dropped an undecodable broadcast for {}", core.nsp);
    return;
  }
  if (msg->uid == core.uid) return;  // our own, already delivered locally
  if (msg->packet.nsp != core.nsp) return;
  msg->opts.flags.local = true;
  c.received.fetch_add(1, std::memory_order_relaxed);
  core.with_local([&](LocalNamespace& local) { local.broadcast(msg->packet, msg->opts); });
}

void RedisHub::on_request(AdapterCore& core, std::string_view payload) {
  std::vector<Bytes> attachments;
  auto v = decode_request(payload, attachments);
  if (!v || !v->is_object()) {
    counters().dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis: dropped a malformed request for {}", core.nsp);
    return;
  }
  auto& req = v->get_object();
  const auto* type_v = req.if_contains("type");
  if (!type_v || !type_v->is_int64()) return;
  const std::int64_t type = type_v->get_int64();
  const std::string request_id = str_of(req, "requestId");
  const std::string from = str_of(req, "uid");
  const json::value* opts_v = req.if_contains("opts");
  BroadcastOptions opts = opts_v ? options_from_json(*opts_v) : BroadcastOptions{};
  opts.flags.local = true;
  auto rooms_of = [&](std::string_view key) {
    std::vector<std::string> rooms;
    if (const auto* r = req.if_contains(key); r && r->is_array())
      for (const auto& x : r->get_array())
        if (x.is_string()) rooms.emplace_back(x.get_string());
    return rooms;
  };
  auto core_ptr = shared(core);
  if (!core_ptr) return;

  switch (type) {
    case kSockets:
    case kRemoteFetch: {
      if (core.pending.contains(request_id) || request_id.empty()) return;  // our own request
      if (type == kSockets && !opts_v) opts.rooms = rooms_of("rooms");      // the pre-7 form
      core.with_local([&](LocalNamespace& local) {
        local.fetch_sockets(opts, [this, core_ptr, request_id, type](std::vector<SocketInfo> sockets) {
          json::object response;
          response["requestId"] = request_id;
          json::array list;
          for (const auto& s : sockets) {
            if (type == kSockets)
              list.emplace_back(s.id);
            else
              list.emplace_back(socket_to_json(s));
          }
          response["sockets"] = std::move(list);
          respond(*core_ptr, response);
        });
      });
      return;
    }
    case kAllRooms: {
      if (core.pending.contains(request_id) || request_id.empty()) return;
      core.with_local([&](LocalNamespace& local) {
        local.all_rooms([this, core_ptr, request_id](std::vector<std::string> rooms) {
          json::object response;
          response["requestId"] = request_id;
          response["rooms"] = to_json(rooms);
          respond(*core_ptr, response);
        });
      });
      return;
    }
    case kRemoteJoin:
    case kRemoteLeave:
    case kRemoteDisconnect: {
      if (from == core.uid) return;
      // Only the {opts} form (socketsJoin & co.); the per-socket {sid} form is from adapters < 7.
      if (!opts_v) return;
      core.with_local([&](LocalNamespace& local) {
        if (type == kRemoteJoin)
          local.add_sockets(opts, rooms_of("rooms"));
        else if (type == kRemoteLeave)
          local.del_sockets(opts, rooms_of("rooms"));
        else {
          const auto* close = req.if_contains("close");
          local.disconnect_sockets(opts, close && close->is_bool() && close->get_bool());
        }
      });
      return;
    }
    case kServerSideEmit: {
      if (from == core.uid) return;
      const auto* data = req.if_contains("data");
      if (!data || !data->is_array() || data->get_array().empty() || !data->get_array()[0].is_string())
        return;
      json::array values = data->get_array();
      const std::string event(values[0].get_string());
      values.erase(values.begin());
      std::function<void(Args)> ack;
      if (!request_id.empty()) {
        auto called = std::make_shared<std::atomic<bool>>(false);
        ack = [this, core_ptr, request_id, called](Args a) {
          if (called->exchange(true)) return;  // Node takes only the first answer
          json::object response;
          response["type"] = kServerSideEmit;
          response["requestId"] = request_id;
          response["data"] = a.empty() ? json::value(nullptr) : a[0];
          // Always on the shared response channel, as the Node adapter does for this one.
          respond(*core_ptr, response);
        };
      }
      core.with_local([&](LocalNamespace& local) {
        local.on_server_side_emit(event, Args(std::move(values), std::move(attachments)), std::move(ack));
      });
      return;
    }
    case kBroadcast: {
      if (from == core.uid || request_id.empty() || core.acks.contains(request_id)) return;
      const auto* p = req.if_contains("packet");
      if (!p || !p->is_object()) return;
      const auto* data = p->get_object().if_contains("data");
      if (!data || !data->is_array()) return;
      OutgoingPacket packet;
      packet.nsp = core.nsp;
      packet.data = data->get_array();
      packet.attachments = std::move(attachments);
      core.with_local([&](LocalNamespace& local) {
        local.broadcast_with_ack(
            packet, opts,
            [this, core_ptr, request_id](std::size_t n) {
              json::object response;
              response["type"] = kBroadcastClientCount;
              response["requestId"] = request_id;
              response["clientCount"] = n;
              respond(*core_ptr, response);
            },
            [this, core_ptr, request_id](Args a) {
              // The ack may carry binary: MessagePack, as the Node adapter sends it.
              json::object response;
              response["type"] = kBroadcastAck;
              response["requestId"] = request_id;
              response["packet"] = a.empty() ? json::value(nullptr) : a[0];
              std::string bytes;
              encode_msgpack(bytes, response, a.attachments());
              publish(core_ptr->response_channel, std::move(bytes));
            });
      });
      return;
    }
    default:
      return;
  }
}

void RedisHub::on_response(AdapterCore& core, std::string_view payload) {
  std::vector<Bytes> attachments;
  auto v = decode_request(payload, attachments);
  if (!v || !v->is_object()) {
    counters().dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto& res = v->get_object();
  const std::string id = str_of(res, "requestId");
  if (core.acks.contains(id)) {
    const auto* type = res.if_contains("type");
    if (type && type->is_int64() && type->get_int64() == kBroadcastClientCount)
      ack_answer(core, id, res.if_contains("clientCount"), nullptr, {});
    else if (type && type->is_int64() && type->get_int64() == kBroadcastAck)
      ack_answer(core, id, nullptr, res.if_contains("packet"), std::move(attachments));
    return;
  }
  answer(core, id, res.if_contains("sockets"), res.if_contains("data"), std::move(attachments));
}

// Sharded mode: one ClusterAdapter message (socket.io-adapter 2.5), a request or a response.
void RedisHub::on_cluster_message(AdapterCore& core, std::string_view payload) {
  std::vector<Bytes> attachments;
  auto v = decode_request(payload, attachments);
  if (!v || !v->is_object()) {
    counters().dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis: dropped a malformed message for {}", core.nsp);
    return;
  }
  auto& msg = v->get_object();
  const std::string from = str_of(msg, "uid");
  if (from == core.uid) return;
  if (str_of(msg, "nsp") != core.nsp) return;
  const auto* type_v = msg.if_contains("type");
  const auto* data_v = msg.if_contains("data");
  if (!type_v || !type_v->is_int64()) return;
  static const json::object empty;
  const json::object& data = data_v && data_v->is_object() ? data_v->get_object() : empty;
  const std::string request_id = str_of(data, "requestId");
  const json::value* opts_v = data.if_contains("opts");
  BroadcastOptions opts = opts_v ? options_from_json(*opts_v) : BroadcastOptions{};
  opts.flags.local = true;
  auto rooms = [&] {
    std::vector<std::string> out;
    if (const auto* r = data.if_contains("rooms"); r && r->is_array())
      for (const auto& x : r->get_array())
        if (x.is_string()) out.emplace_back(x.get_string());
    return out;
  };
  auto core_ptr = shared(core);
  if (!core_ptr) return;

  switch (type_v->get_int64()) {
    case kcBroadcast: {
      const auto* p = data.if_contains("packet");
      if (!p || !p->is_object()) return;
      const auto* d = p->get_object().if_contains("data");
      if (!d || !d->is_array()) return;
      OutgoingPacket packet;
      packet.nsp = core.nsp;
      packet.data = d->get_array();
      packet.attachments = std::move(attachments);
      if (request_id.empty()) {
        counters().received.fetch_add(1, std::memory_order_relaxed);
        core.with_local([&](LocalNamespace& local) { local.broadcast(packet, opts); });
        return;
      }
      core.with_local([&](LocalNamespace& local) {
        local.broadcast_with_ack(
            packet, opts,
            [this, core_ptr, from, request_id](std::size_t n) {
              respond_to(*core_ptr, from, kcBroadcastClientCount,
                         {{"requestId", request_id}, {"clientCount", n}});
            },
            [this, core_ptr, from, request_id](Args a) {
              json::object d;
              d["requestId"] = request_id;
              d["packet"] = a.empty() ? json::value(nullptr) : a[0];
              respond_to(*core_ptr, from, kcBroadcastAck, std::move(d), a.attachments());
            });
      });
      return;
    }
    case kcSocketsJoin:
      core.with_local([&](LocalNamespace& local) { local.add_sockets(opts, rooms()); });
      return;
    case kcSocketsLeave:
      core.with_local([&](LocalNamespace& local) { local.del_sockets(opts, rooms()); });
      return;
    case kcDisconnectSockets: {
      const auto* close = data.if_contains("close");
      const bool c = close && close->is_bool() && close->get_bool();
      core.with_local([&](LocalNamespace& local) { local.disconnect_sockets(opts, c); });
      return;
    }
    case kcFetchSockets:
      core.with_local([&](LocalNamespace& local) {
        local.fetch_sockets(opts, [this, core_ptr, from, request_id](std::vector<SocketInfo> sockets) {
          json::array list;
          for (const auto& s : sockets) list.emplace_back(socket_to_json(s));
          respond_to(*core_ptr, from, kcFetchSocketsResponse,
                     {{"requestId", request_id}, {"sockets", std::move(list)}});
        });
      });
      return;
    case kcServerSideEmit: {
      const auto* packet = data.if_contains("packet");
      if (!packet || !packet->is_array() || packet->get_array().empty() ||
          !packet->get_array()[0].is_string())
        return;
      json::array values = packet->get_array();
      const std::string event(values[0].get_string());
      values.erase(values.begin());
      std::function<void(Args)> ack;
      if (!request_id.empty()) {
        auto called = std::make_shared<std::atomic<bool>>(false);
        ack = [this, core_ptr, from, request_id, called](Args a) {
          if (called->exchange(true)) return;  // only the first answer counts
          json::object d;
          d["requestId"] = request_id;
          d["packet"] = a.empty() ? json::value(nullptr) : a[0];
          respond_to(*core_ptr, from, kcServerSideEmitResponse, std::move(d), a.attachments());
        };
      }
      core.with_local([&](LocalNamespace& local) {
        local.on_server_side_emit(event, Args(std::move(values), std::move(attachments)), std::move(ack));
      });
      return;
    }
    case kcBroadcastClientCount:
      return ack_answer(core, request_id, data.if_contains("clientCount"), nullptr, {});
    case kcBroadcastAck:
      return ack_answer(core, request_id, nullptr, data.if_contains("packet"), std::move(attachments));
    case kcFetchSocketsResponse:
      return answer(core, request_id, data.if_contains("sockets"), nullptr, {});
    case kcServerSideEmitResponse:
      return answer(core, request_id, nullptr, data.if_contains("packet"), std::move(attachments));
    default:
      return;  // heartbeats and ADAPTER_CLOSE are for ClusterAdapterWithHeartbeat, not used here
  }
}

namespace {

// Classic: the room's channel when there is exactly one room.
// Sharded ("dynamic"): likewise, unless the room looks like a socket id (20 characters), whose
// channel nobody subscribes to.
std::string broadcast_channel(const AdapterCore& core, const BroadcastOptions& opts) {
  if (opts.rooms.size() != 1) return core.channel;
  if (core.sharded() && opts.rooms.front().size() == 20) return core.channel;
  return core.channel + opts.rooms.front() + "#";
}

json::object packet_json(const AdapterCore& core, const OutgoingPacket& packet) {
  json::object p;
  p["type"] = 2;
  p["data"] = packet.data;
  p["nsp"] = core.nsp;
  return p;
}

}  // namespace

RedisAdapter::RedisAdapter(LocalNamespace& local, std::shared_ptr<RedisHub> hub)
    : Adapter(local), hub_(std::move(hub)), core_(std::make_shared<AdapterCore>()) {
  const auto& key = hub_->config().key;
  core_->local = &local;
  core_->mode = hub_->config().mode;
  core_->nsp = local.name();
  core_->channel = key + "#" + core_->nsp + "#";
  if (core_->sharded()) {
    core_->uid = hex_id();
    core_->response_channel = core_->channel + core_->uid + "#";
  } else {
    core_->uid = random_id();
    core_->request_channel = key + "-request#" + core_->nsp + "#";
    core_->response_channel = key + "-response#" + core_->nsp + "#";
    core_->specific_response_channel = core_->response_channel + core_->uid + "#";
  }
  hub_->add(core_);
}

RedisAdapter::~RedisAdapter() {
  {
    std::lock_guard lock(core_->mutex);
    core_->local = nullptr;
  }
  hub_->remove(core_);
}

const std::string& RedisAdapter::uid() const noexcept {
  return core_->uid;
}

std::size_t RedisAdapter::server_count() const {
  hub_->post([hub = hub_, core = core_] { hub->count_servers(core, [](std::int64_t) {}); });
  return core_->server_count.load();
}

void RedisAdapter::on_room_created(const std::string& room) {
  if (core_->sharded()) hub_->room_changed(core_, room, true);
}

void RedisAdapter::on_room_deleted(const std::string& room) {
  if (core_->sharded()) hub_->room_changed(core_, room, false);
}

void RedisAdapter::broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) {
  if (!opts.flags.local) {
    if (core_->sharded()) {
      json::object data;
      data["packet"] = packet_json(*core_, packet);
      data["opts"] = options_to_json(opts, true);
      hub_->publish(broadcast_channel(*core_, opts),
                    RedisHub::encode_cluster(*core_, kcBroadcast, std::move(data), packet.attachments));
    } else {
      OutgoingPacket p = packet;
      p.nsp = core_->nsp;
      hub_->publish(broadcast_channel(*core_, opts), encode_broadcast(core_->uid, p, opts));
    }
  }
  local_.broadcast(packet, opts);
}

void RedisAdapter::broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                                      std::function<void(std::size_t)> client_count,
                                      std::function<void(Args)> on_ack) {
  if (opts.flags.local)
    return local_.broadcast_with_ack(packet, opts, std::move(client_count), std::move(on_ack));
  // Every node reports how many of its clients got the packet (BROADCAST_CLIENT_COUNT), then
  // each of their acks (BROADCAST_ACK); client_count gets the sum once every node answered (the
  // number of nodes from PUBSUB [SHARD]NUMSUB). A node that never answers leaves the total
  // unknown: the caller's timeout ends the wait, with the acks that arrived.
  auto sum = std::make_shared<ClientCountSum>();
  sum->done = std::move(client_count);
  const std::string id = core_->new_request_id();
  std::string bytes;
  if (core_->sharded()) {
    json::object data;
    data["packet"] = packet_json(*core_, packet);
    data["requestId"] = id;
    data["opts"] = options_to_json(opts, true);
    bytes = RedisHub::encode_cluster(*core_, kcBroadcast, std::move(data), packet.attachments);
  } else {
    json::object req;
    req["uid"] = core_->uid;
    req["requestId"] = id;
    req["type"] = kBroadcast;
    req["packet"] = packet_json(*core_, packet);
    req["opts"] = options_to_json(opts, true);
    encode_msgpack(bytes, req, packet.attachments);
  }
  const auto wait = opts.flags.timeout.value_or(hub_->config().requests_timeout);
  hub_->post([hub = hub_, core = core_, id, sum, on_ack, wait, bytes = std::move(bytes)]() mutable {
    auto& a = core->acks[id];
    a.count = sum;
    a.on_ack = on_ack;
    a.timer = std::make_unique<asio::steady_timer>(hub->io(), wait);
    a.timer->async_wait([core, id](boost::system::error_code ec) {
      if (!ec) core->acks.erase(id);  // later answers are ignored, as in the Node adapter
    });
    hub->publish(core->sharded() ? core->channel : core->request_channel, std::move(bytes));
    hub->count_servers(core, [sum](std::int64_t n) { sum->expect(n > 1 ? static_cast<std::size_t>(n) : 1); });
  });
  local_.broadcast_with_ack(
      packet, opts, [sum](std::size_t n) { sum->add(n); }, std::move(on_ack));
}

void RedisAdapter::fetch_sockets(const BroadcastOptions& opts,
                                 std::function<void(std::vector<SocketInfo>)> done) {
  if (opts.flags.local) return local_.fetch_sockets(opts, std::move(done));
  auto hub = hub_;
  auto core = core_;
  const auto timeout = hub_->config().requests_timeout;
  local_.fetch_sockets(opts, [hub, core, opts, timeout,
                              done = std::move(done)](std::vector<SocketInfo> mine) mutable {
    hub->post([hub, core, opts, timeout, done = std::move(done), mine = std::move(mine)]() mutable {
      hub->count_servers(core, [hub, core, opts, timeout, done = std::move(done),
                                mine = std::move(mine)](std::int64_t n) mutable {
        if (n <= 1) return done(std::move(mine));
        const std::string id = core->new_request_id();
        auto& p = hub->start_request(core, id, kRemoteFetch, n - 1, timeout);
        p.sockets = std::move(mine);
        p.on_sockets = std::move(done);
        if (core->sharded()) {
          hub->publish(core->channel, RedisHub::encode_cluster(
                                          *core, kcFetchSockets,
                                          {{"opts", options_to_json(opts, true)}, {"requestId", id}}, {}));
          return;
        }
        json::object req;
        req["uid"] = core->uid;
        req["requestId"] = id;
        req["type"] = kRemoteFetch;
        req["opts"] = options_to_json(opts, false);
        hub->publish(core->request_channel, json::serialize(req));
      });
    });
  });
}

namespace {

// socketsJoin / socketsLeave / disconnectSockets for the other nodes.
void publish_remote_op(RedisHub& hub, const AdapterCore& core, std::int64_t classic_type,
                       std::int64_t cluster_type, const BroadcastOptions& opts, const char* extra_key,
                       json::value extra) {
  if (core.sharded()) {
    json::object data;
    data["opts"] = options_to_json(opts, true);
    data[extra_key] = std::move(extra);
    hub.publish(core.channel, RedisHub::encode_cluster(core, cluster_type, std::move(data), {}));
    return;
  }
  json::object req;
  req["uid"] = core.uid;
  req["type"] = classic_type;
  req["opts"] = options_to_json(opts, false);
  req[extra_key] = std::move(extra);
  hub.publish(core.request_channel, json::serialize(req));
}

}  // namespace

void RedisAdapter::add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  // The Node adapter applies its own REMOTE_JOIN when it comes back from Redis; we skip our own
  // uid on receipt (no round trip for the local part), so the local part runs here.
  local_.add_sockets(opts, rooms);
  if (!opts.flags.local)
    publish_remote_op(*hub_, *core_, kRemoteJoin, kcSocketsJoin, opts, "rooms", to_json(rooms));
}

void RedisAdapter::del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  local_.del_sockets(opts, rooms);
  if (!opts.flags.local)
    publish_remote_op(*hub_, *core_, kRemoteLeave, kcSocketsLeave, opts, "rooms", to_json(rooms));
}

void RedisAdapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  local_.disconnect_sockets(opts, close);
  if (!opts.flags.local)
    publish_remote_op(*hub_, *core_, kRemoteDisconnect, kcDisconnectSockets, opts, "close",
                      json::value(close));
}

void RedisAdapter::server_side_emit(const std::string& event, const Args& args,
                                    std::optional<std::chrono::milliseconds> timeout,
                                    std::function<void(bool timed_out, AckResponses)> done) {
  json::array data;
  data.emplace_back(event);
  for (const auto& v : args.values()) data.push_back(v);
  auto make = [core = core_, data = std::move(data),
               attachments = args.attachments()](const std::string& id) {
    if (core->sharded()) {
      json::object d;
      if (!id.empty()) d["requestId"] = id;
      d["packet"] = data;
      return RedisHub::encode_cluster(*core, kcServerSideEmit, std::move(d), attachments);
    }
    json::object req;
    req["uid"] = core->uid;
    req["type"] = kServerSideEmit;
    req["data"] = data;
    if (!id.empty()) req["requestId"] = id;
    return json::serialize(req);
  };
  const std::string& channel = core_->sharded() ? core_->channel : core_->request_channel;
  if (!done) {
    hub_->publish(channel, make(""));
    return;
  }
  const auto wait = timeout.value_or(hub_->config().requests_timeout);
  hub_->post(
      [hub = hub_, core = core_, wait, channel, make = std::move(make), done = std::move(done)]() mutable {
        hub->count_servers(core, [hub, core, wait, channel, make = std::move(make),
                                  done = std::move(done)](std::int64_t n) mutable {
          const std::int64_t others = n - 1;  // every node but this one answers
          if (others <= 0) return done(false, {});
          const std::string id = core->new_request_id();
          auto& p = hub->start_request(core, id, kServerSideEmit, others, wait);
          p.on_responses = std::move(done);
          hub->publish(channel, make(id));
        });
      });
}

RedisConnection::RedisConnection(RedisConfig config) : hub_(std::make_shared<RedisHub>(std::move(config))) {}

AdapterFactory RedisConnection::factory() const {
  return [hub = hub_](LocalNamespace& local) -> std::unique_ptr<Adapter> {
    return std::make_unique<RedisAdapter>(local, hub);
  };
}

bool RedisConnection::wait_until_subscribed(std::chrono::milliseconds timeout) const {
  return hub_->wait_until_subscribed(timeout);
}

const RedisCounters& RedisConnection::counters() const {
  return hub_->counters();
}

AdapterFactory make_redis_adapter_factory(RedisConfig config) {
  return RedisConnection(std::move(config)).factory();
}

}  // namespace socketio::redis
