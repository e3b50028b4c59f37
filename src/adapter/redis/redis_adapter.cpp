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

// Like uid2(6) in the Node adapter: a short random id, unique enough among a cluster's nodes.
std::string random_id(std::size_t n = 6) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
  std::string s(n, ' ');
  for (auto& c : s) c = alphabet[pick(rng)];
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

// One namespace's state as the Redis thread sees it. The adapter and the hub share it, so a
// message arriving while the namespace is being destroyed finds `local == nullptr`.
struct AdapterCore {
  struct Pending {
    std::int64_t type = 0;
    std::int64_t num_sub = 0;
    std::int64_t msg_count = 0;
    std::vector<SocketInfo> sockets;
    AckResponses responses;
    std::function<void(std::vector<SocketInfo>)> on_sockets;
    std::function<void(bool, AckResponses)> on_responses;
    std::unique_ptr<asio::steady_timer> timer;
  };

  std::mutex mutex;
  LocalNamespace* local = nullptr;
  std::string nsp;
  std::string uid = random_id();
  std::string channel, request_channel, response_channel, specific_response_channel;
  std::atomic<std::size_t> server_count{1};
  std::unordered_map<std::string, Pending> pending;  // Redis thread only

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
    asio::post(io_, [this] {
      pub_->start();
      sub_->start();
    });
    thread_ = std::thread([this] { io_.run(); });
  }

  ~RedisHub() {
    asio::post(io_, [this] {
      pub_->stop();
      sub_->stop();
      for (auto& c : cores_) c->pending.clear();
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

  template <class Fn>
  void post(Fn&& fn) {
    asio::post(io_, std::forward<Fn>(fn));
  }

  void add(const std::shared_ptr<AdapterCore>& core) {
    {
      std::lock_guard lock(mutex_);
      cores_.push_back(core);
    }
    post([this, core] {
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
      sub_->punsubscribe(core->channel + "*");
      sub_->unsubscribe(core->request_channel);
      sub_->unsubscribe(core->response_channel);
      sub_->unsubscribe(core->specific_response_channel);
    });
  }

  // Any thread. Counted as failed at once while Redis is down: nothing is queued for later, as a
  // broadcast delivered minutes late is worse than one lost.
  void publish(std::string channel, std::string payload) {
    post([this, channel = std::move(channel), payload = std::move(payload)] {
      auto& c = counters();
      const bool sent = pub_->command({"PUBLISH", channel, payload}, [&c](const redisReply* r) {
        if (r && r->type != REDIS_REPLY_ERROR)
          c.published.fetch_add(1, std::memory_order_relaxed);
        else
          c.publish_failed.fetch_add(1, std::memory_order_relaxed);
      });
      if (!sent) c.publish_failed.fetch_add(1, std::memory_order_relaxed);
    });
  }

  // Redis thread: how many nodes listen on `channel`; -1 when Redis cannot tell.
  void numsub(const std::string& channel, std::function<void(std::int64_t)> done) {
    const bool sent = pub_->command({"PUBSUB", "NUMSUB", channel}, [done](const redisReply* r) {
      if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_INTEGER)
        done(r->element[1]->integer);
      else
        done(-1);
    });
    if (!sent) done(-1);
  }

 private:
  void dispatch(std::string_view channel, std::string_view payload);
  void on_broadcast(AdapterCore& core, std::string_view payload);
  void on_request(AdapterCore& core, std::string_view payload);
  void on_response(AdapterCore& core, std::string_view payload);
  void respond(AdapterCore& core, const json::object& response) {
    publish(core.response_channel, json::serialize(response));
  }

  RedisConfig config_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<RedisClient> pub_;
  std::unique_ptr<RedisClient> sub_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<AdapterCore>> cores_;
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
  auto core_ptr = [&] {
    std::lock_guard lock(mutex_);
    for (auto& c : cores_)
      if (c.get() == &core) return c;
    return std::shared_ptr<AdapterCore>();
  }();
  if (!core_ptr) return;

  switch (type) {
    case kSockets:
    case kRemoteFetch: {
      if (core.pending.contains(request_id) || request_id.empty()) return;  // our own request
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
      if (from == core.uid || request_id.empty()) return;
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
  auto it = core.pending.find(str_of(res, "requestId"));
  if (it == core.pending.end()) return;  // someone else's, or timed out
  auto& p = it->second;
  bool finished = false;
  switch (p.type) {
    case kRemoteFetch: {
      ++p.msg_count;
      if (const auto* s = res.if_contains("sockets"); s && s->is_array())
        for (const auto& x : s->get_array())
          if (auto info = socket_from_json(x)) p.sockets.push_back(std::move(*info));
      finished = p.msg_count >= p.num_sub;
      if (finished && p.on_sockets) p.on_sockets(std::move(p.sockets));
      break;
    }
    case kServerSideEmit: {
      json::array a;
      a.push_back(res.contains("data") ? res.at("data") : json::value(nullptr));
      p.responses.emplace_back(std::move(a), std::vector<Bytes>{});
      finished = static_cast<std::int64_t>(p.responses.size()) >= p.num_sub;
      if (finished && p.on_responses) p.on_responses(false, std::move(p.responses));
      break;
    }
    default:
      break;
  }
  if (finished) core.pending.erase(it);
}

namespace {

std::string room_channel(const AdapterCore& core, const BroadcastOptions& opts) {
  return opts.rooms.size() == 1 ? core.channel + opts.rooms.front() + "#" : core.channel;
}

json::object remote_opts(const BroadcastOptions& opts) {
  return options_to_json(opts, false);
}

}  // namespace

RedisAdapter::RedisAdapter(LocalNamespace& local, std::shared_ptr<RedisHub> hub)
    : Adapter(local), hub_(std::move(hub)), core_(std::make_shared<AdapterCore>()) {
  const auto& key = hub_->config().key;
  core_->local = &local;
  core_->nsp = local.name();
  core_->channel = key + "#" + core_->nsp + "#";
  core_->request_channel = key + "-request#" + core_->nsp + "#";
  core_->response_channel = key + "-response#" + core_->nsp + "#";
  core_->specific_response_channel = core_->response_channel + core_->uid + "#";
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
  auto core = core_;
  hub_->post([hub = hub_, core] {
    hub->numsub(core->request_channel, [core](std::int64_t n) {
      if (n > 0) core->server_count = static_cast<std::size_t>(n);
    });
  });
  return core_->server_count.load();
}

void RedisAdapter::broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) {
  if (!opts.flags.local) {
    OutgoingPacket p = packet;
    p.nsp = core_->nsp;
    hub_->publish(room_channel(*core_, opts), encode_broadcast(core_->uid, p, opts));
  }
  local_.broadcast(packet, opts);
}

void RedisAdapter::broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                                      std::function<void(std::size_t)> client_count,
                                      std::function<void(Args)> on_ack) {
  if (!opts.flags.local) {
    // Other nodes deliver it (and the Node adapter answers with counts and acks), but their
    // answers are not collected yet: client_count and on_ack only see this node's clients.
    json::object req;
    req["uid"] = core_->uid;
    req["requestId"] = random_id();
    req["type"] = kBroadcast;
    json::object p;
    p["type"] = 2;
    p["data"] = packet.data;
    p["nsp"] = core_->nsp;
    req["packet"] = std::move(p);
    req["opts"] = options_to_json(opts, true);
    std::string bytes;
    encode_msgpack(bytes, req, packet.attachments);
    hub_->publish(core_->request_channel, std::move(bytes));
  }
  local_.broadcast_with_ack(packet, opts, std::move(client_count), std::move(on_ack));
}

void RedisAdapter::fetch_sockets(const BroadcastOptions& opts,
                                 std::function<void(std::vector<SocketInfo>)> done) {
  if (opts.flags.local) return local_.fetch_sockets(opts, std::move(done));
  auto hub = hub_;
  auto core = core_;
  const auto timeout = hub_->config().requests_timeout;
  local_.fetch_sockets(
      opts, [hub, core, opts, timeout, done = std::move(done)](std::vector<SocketInfo> mine) mutable {
        hub->post([hub, core, opts, timeout, done = std::move(done), mine = std::move(mine)]() mutable {
          hub->numsub(core->request_channel, [hub, core, opts, timeout, done = std::move(done),
                                              mine = std::move(mine)](std::int64_t n) mutable {
            if (n > 0) core->server_count = static_cast<std::size_t>(n);
            if (n <= 1) return done(std::move(mine));
            const std::string id = random_id();
            auto& p = core->pending[id];
            p.type = kRemoteFetch;
            p.num_sub = n;
            p.msg_count = 1;  // ourselves
            p.sockets = std::move(mine);
            p.on_sockets = std::move(done);
            p.timer = std::make_unique<asio::steady_timer>(hub->io(), timeout);
            p.timer->async_wait([core, id](boost::system::error_code ec) {
              if (ec) return;
              auto it = core->pending.find(id);
              if (it == core->pending.end()) return;
              spdlog::warn("redis: fetchSockets timed out ({} of {} nodes answered)", it->second.msg_count,
                           it->second.num_sub);
              auto pending = std::move(it->second);
              core->pending.erase(it);
              if (pending.on_sockets) pending.on_sockets(std::move(pending.sockets));
            });
            json::object req;
            req["uid"] = core->uid;
            req["requestId"] = id;
            req["type"] = kRemoteFetch;
            req["opts"] = remote_opts(opts);
            hub->publish(core->request_channel, json::serialize(req));
          });
        });
      });
}

void RedisAdapter::add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  // The Node adapter applies its own REMOTE_JOIN when it comes back from Redis; we skip our own
  // uid on receipt (no round trip for the local part), so the local part runs here.
  local_.add_sockets(opts, rooms);
  if (opts.flags.local) return;
  json::object req;
  req["uid"] = core_->uid;
  req["type"] = kRemoteJoin;
  req["opts"] = remote_opts(opts);
  req["rooms"] = to_json(rooms);
  hub_->publish(core_->request_channel, json::serialize(req));
}

void RedisAdapter::del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  local_.del_sockets(opts, rooms);
  if (opts.flags.local) return;
  json::object req;
  req["uid"] = core_->uid;
  req["type"] = kRemoteLeave;
  req["opts"] = remote_opts(opts);
  req["rooms"] = to_json(rooms);
  hub_->publish(core_->request_channel, json::serialize(req));
}

void RedisAdapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  local_.disconnect_sockets(opts, close);
  if (opts.flags.local) return;
  json::object req;
  req["uid"] = core_->uid;
  req["type"] = kRemoteDisconnect;
  req["opts"] = remote_opts(opts);
  req["close"] = close;
  hub_->publish(core_->request_channel, json::serialize(req));
}

void RedisAdapter::server_side_emit(const std::string& event, const Args& args,
                                    std::optional<std::chrono::milliseconds> timeout,
                                    std::function<void(bool timed_out, AckResponses)> done) {
  json::array data;
  data.emplace_back(event);
  for (const auto& v : args.values()) data.push_back(v);
  json::object req;
  req["uid"] = core_->uid;
  req["type"] = kServerSideEmit;
  req["data"] = std::move(data);
  if (!done) {
    hub_->publish(core_->request_channel, json::serialize(req));
    return;
  }
  auto hub = hub_;
  auto core = core_;
  const auto wait = timeout.value_or(hub_->config().requests_timeout);
  hub_->post([hub, core, wait, req = std::move(req), done = std::move(done)]() mutable {
    hub->numsub(core->request_channel,
                [hub, core, wait, req = std::move(req), done = std::move(done)](std::int64_t n) mutable {
                  if (n > 0) core->server_count = static_cast<std::size_t>(n);
                  const std::int64_t others = n - 1;  // every node but this one answers
                  if (others <= 0) return done(false, {});
                  const std::string id = random_id();
                  req["requestId"] = id;
                  auto& p = core->pending[id];
                  p.type = kServerSideEmit;
                  p.num_sub = others;
                  p.on_responses = std::move(done);
                  p.timer = std::make_unique<asio::steady_timer>(hub->io(), wait);
                  p.timer->async_wait([core, id](boost::system::error_code ec) {
                    if (ec) return;
                    auto it = core->pending.find(id);
                    if (it == core->pending.end()) return;
                    auto pending = std::move(it->second);
                    core->pending.erase(it);
                    if (pending.on_responses) pending.on_responses(true, std::move(pending.responses));
                  });
                  hub->publish(core->request_channel, json::serialize(req));
                });
  });
}

AdapterFactory make_redis_adapter_factory(RedisConfig config) {
  auto hub = std::make_shared<RedisHub>(std::move(config));
  return [hub](LocalNamespace& local) -> std::unique_ptr<Adapter> {
    return std::make_unique<RedisAdapter>(local, hub);
  };
}

}  // namespace socketio::redis
