#include "adapter/redis/redis_client.hpp"

#include <boost/asio/post.hpp>
#include <boost/url/parse.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <charconv>

namespace socketio::redis {

namespace asio = boost::asio;

std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<RedisEndpoint> {
    if (error) *error = why;
    return std::nullopt;
  };
  auto r = boost::urls::parse_uri(url);
  if (!r) return fail("not a URL");
  const auto& u = *r;
  if (u.scheme() != "redis") return fail("scheme must be redis:// (TLS is not supported)");
  RedisEndpoint ep;
  if (!u.encoded_host().empty()) ep.host = u.host();
  if (u.has_port()) {
    const auto p = u.port_number();
    if (p == 0) return fail("bad port");
    ep.port = p;
  }
  if (u.has_userinfo()) {
    ep.user = u.user();
    if (u.has_password()) ep.password = u.password();
    // redis://:pass@host is the classic password-only form.
    if (!u.has_password()) {
      ep.password = ep.user;
      ep.user.clear();
    }
  }
  std::string path = u.path();
  if (!path.empty() && path != "/") {
    const char* b = path.data() + 1;
    const char* e = path.data() + path.size();
    auto [end, ec] = std::from_chars(b, e, ep.db);
    if (ec != std::errc() || end != e || ep.db < 0) return fail("bad database number in path");
  }
  return ep;
}

// The descriptor hiredis reads and writes, seen by Asio. Shared with the pending waits so that a
// wait completing after hiredis freed the context finds `ac == nullptr` instead of freed memory.
struct RedisClient::Watcher : std::enable_shared_from_this<Watcher> {
  Watcher(asio::io_context& io, int fd, redisAsyncContext* ctx) : sd(io, fd), ac(ctx) {}
  asio::posix::stream_descriptor sd;
  redisAsyncContext* ac;
  std::size_t max_buffered = 0;  // unparsed reply bytes allowed
  bool want_read = false, want_write = false;

  bool over_limit() const {
    const auto* r = ac->c.reader;
    return r && r->len > r->pos && r->len - r->pos > max_buffered;
  }
  bool read_armed = false, write_armed = false;

  void arm_read() {
    if (read_armed || !ac || !want_read) return;
    read_armed = true;
    sd.async_wait(asio::posix::stream_descriptor::wait_read,
                  [self = shared_from_this()](boost::system::error_code ec) {
                    self->read_armed = false;
                    if (ec || !self->ac || !self->want_read) return;
                    redisAsyncHandleRead(self->ac);  // may free the context (cleanup hook clears ac)
                    if (self->ac && self->over_limit()) {
                      // A reply hiredis is still assembling (a bulk length or element count from
                      // Redis) would grow without bound: drop the connection, reconnect.
                      auto* client = static_cast<RedisClient*>(self->ac->data);
                      ++client->oversized_drops_;
                      client->drop_connection("reply over the size limit");
                      return;
                    }
                    self->arm_read();
                  });
  }
  void arm_write() {
    if (write_armed || !ac || !want_write) return;
    write_armed = true;
    sd.async_wait(asio::posix::stream_descriptor::wait_write,
                  [self = shared_from_this()](boost::system::error_code ec) {
                    self->write_armed = false;
                    if (ec || !self->ac || !self->want_write) return;
                    redisAsyncHandleWrite(self->ac);
                    self->arm_write();
                  });
  }
  // hiredis is about to close the fd: Asio must forget it without closing it.
  void detach() {
    ac = nullptr;
    boost::system::error_code ignored;
    sd.cancel(ignored);
    (void)sd.release();
  }

  static Watcher& of(void* p) { return *static_cast<Watcher*>(p); }
  static void add_read(void* p) {
    of(p).want_read = true;
    of(p).arm_read();
  }
  static void del_read(void* p) { of(p).want_read = false; }
  static void add_write(void* p) {
    of(p).want_write = true;
    of(p).arm_write();
  }
  static void del_write(void* p) { of(p).want_write = false; }
};

RedisClient::RedisClient(asio::io_context& io, RedisEndpoint endpoint, std::string name,
                         std::size_t max_reply_bytes)
    : io_(io),
      endpoint_(std::move(endpoint)),
      name_(std::move(name)),
      max_reply_bytes_(max_reply_bytes),
      retry_timer_(io) {}

void RedisClient::drop_connection(const char* why) {
  spdlog::warn("redis {}: {}: dropping the connection (limit {} bytes)", name_, why, max_reply_bytes_);
  if (ac_) redisAsyncFree(ac_);  // fails the pending replies; the cleanup hook reconnects
}

RedisClient::~RedisClient() {
  stop();
}

void RedisClient::start() {
  stopping_ = false;
  connect();
}

void RedisClient::stop() {
  stopping_ = true;
  retry_timer_.cancel();
  if (ac_) {
    // Calls every pending callback with a null reply, then the cleanup hook (which clears ac_).
    redisAsyncFree(ac_);
  }
  ac_ = nullptr;
  connected_ = false;
}

void RedisClient::connect() {
  if (stopping_ || ac_) return;
  redisAsyncContext* ac = redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (!ac || ac->err) {
    spdlog::log(failing_ ? spdlog::level::debug : spdlog::level::warn,
                "redis {}: connect to {}:{} failed: {}", name_, endpoint_.host, endpoint_.port,
                ac ? ac->errstr : "out of memory");
    failing_ = true;
    if (ac) redisAsyncFree(ac);
    schedule_reconnect();
    return;
  }
  ac_ = ac;
  ac->data = this;
  watcher_ = std::make_shared<Watcher>(io_, ac->c.fd, ac);
  watcher_->max_buffered = max_reply_bytes_;
  ac->ev.data = watcher_.get();
  ac->ev.addRead = &Watcher::add_read;
  ac->ev.delRead = &Watcher::del_read;
  ac->ev.addWrite = &Watcher::add_write;
  ac->ev.delWrite = &Watcher::del_write;
  ac->ev.cleanup = [](void* p) {
    auto& w = Watcher::of(p);
    auto* ac = w.ac;
    w.detach();
    if (ac && ac->data) static_cast<RedisClient*>(ac->data)->on_context_gone();
  };
  redisAsyncSetConnectCallback(ac, &RedisClient::on_connect_cb);
  redisAsyncSetDisconnectCallback(ac, &RedisClient::on_disconnect_cb);
  // The non-blocking connect completes when the socket is writable.
  Watcher::add_write(watcher_.get());
}

void RedisClient::schedule_reconnect() {
  if (stopping_) return;
  retry_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, max_backoff_);
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) connect();
  });
}

void RedisClient::on_context_gone() {
  // Runs inside hiredis (cleanup hook): the context is being freed; reconnect from a fresh stack.
  ac_ = nullptr;
  unconfirmed_ = 0;
  asked_sunsubscribes_.clear();
  if (connected_.exchange(false) && !stopping_) {
    spdlog::warn("redis {}: connection lost, reconnecting", name_);
    failing_ = true;
    if (losses_) losses_->fetch_add(1, std::memory_order_relaxed);
    if (on_lost_)
      asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
        if (!alive.expired()) on_lost_();
      });
  }
  if (!stopping_) asio::post(io_, [this] { schedule_reconnect(); });
}

void RedisClient::on_connect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self) return;
  if (status != REDIS_OK) {
    spdlog::log(self->failing_ ? spdlog::level::debug : spdlog::level::warn,
                "redis {}: cannot connect to {}:{}: {}", self->name_, self->endpoint_.host,
                self->endpoint_.port, ac->errstr);
    self->failing_ = true;
    return;  // hiredis frees the context next; the cleanup hook schedules the retry
  }
  spdlog::log(self->failing_ ? spdlog::level::warn : spdlog::level::info, "redis {}: connected to {}:{}",
              self->name_, self->endpoint_.host, self->endpoint_.port);
  self->failing_ = false;
  self->backoff_ = std::chrono::milliseconds(100);
  self->connected_ = true;
  auto log_error = [name = self->name_](const char* what) {
    return [name, what](const redisReply* r) {
      if (r && r->type == REDIS_REPLY_ERROR) spdlog::error("redis {}: {} failed: {}", name, what, r->str);
    };
  };
  if (!self->endpoint_.password.empty()) {
    if (self->endpoint_.user.empty())
      self->command({"AUTH", self->endpoint_.password}, log_error("AUTH"));
    else
      self->command({"AUTH", self->endpoint_.user, self->endpoint_.password}, log_error("AUTH"));
  }
  if (self->endpoint_.db != 0) {
    const std::string db = std::to_string(self->endpoint_.db);
    self->command({"SELECT", db}, log_error("SELECT"));
  }
  for (const auto& c : self->channels_) self->send_subscribe("SUBSCRIBE", c);
  for (const auto& p : self->patterns_) self->send_subscribe("PSUBSCRIBE", p);
  for (const auto& c : self->sharded_) self->send_ssubscribe(c);
  if (self->on_connect_) self->on_connect_();
}

void RedisClient::on_disconnect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self) return;
  if (status != REDIS_OK) spdlog::warn("redis {}: disconnected: {}", self->name_, ac->errstr);
  self->connected_ = false;
}

bool RedisClient::command(const std::vector<std::string_view>& argv, ReplyHandler on_reply) {
  if (!ac_ || !connected_) return false;
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* handler = new ReplyHandler(std::move(on_reply));
  if (redisAsyncCommandArgv(ac_, &RedisClient::on_reply_cb, handler, static_cast<int>(args.size()),
                            args.data(), lens.data()) != REDIS_OK) {
    delete handler;
    return false;
  }
  return true;
}

void RedisClient::on_reply_cb(redisAsyncContext*, void* reply, void* privdata) {
  // hiredis calls a non-subscribe callback exactly once (null reply when the context goes away).
  std::unique_ptr<ReplyHandler> handler(static_cast<ReplyHandler*>(privdata));
  if (*handler) (*handler)(static_cast<const redisReply*>(reply));
}

void RedisClient::on_sub_cb(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<RedisClient*>(ac->data);
  const auto* r = static_cast<const redisReply*>(reply);
  if (self && r && r->type == REDIS_REPLY_ERROR) {
    // A sharded (un)subscribe refused: in a Redis Cluster, the channel's slot is elsewhere (MOVED).
    if (self->unconfirmed_ > 0) --self->unconfirmed_;
    if (self->on_shard_)
      asio::post(self->io_,
                 [self, alive = std::weak_ptr<int>(self->alive_), error = std::string(r->str, r->len)] {
                   if (!alive.expired()) self->on_shard_({}, error);
                 });
    return;
  }
  if (!self || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  for (std::size_t i = 0; i < r->elements; ++i)
    if (r->element[i]->type != REDIS_REPLY_STRING && r->element[i]->type != REDIS_REPLY_INTEGER) return;
  const std::string_view kind(r->element[0]->str, r->element[0]->len);
  auto text = [&](std::size_t i) { return std::string_view(r->element[i]->str, r->element[i]->len); };
  if (kind == "message" && r->elements == 3) {
    // A sharded channel is SUBSCRIBEd only for hiredis's sake (see the header).
    if (self->on_message_ && !self->sharded_.contains(std::string(text(1))))
      self->on_message_(text(1), text(2));
  } else if (kind == "smessage" && r->elements == 3) {
    if (self->on_message_) self->on_message_(text(1), text(2));
  } else if (kind == "pmessage" && r->elements == 4) {
    if (self->on_message_) self->on_message_(text(2), text(3));
  } else if (kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe") {
    if (self->unconfirmed_ > 0) --self->unconfirmed_;
  } else if (kind == "sunsubscribe") {
    std::string channel(text(1));
    if (auto it = self->asked_sunsubscribes_.find(channel); it != self->asked_sunsubscribes_.end()) {
      if (--it->second == 0) self->asked_sunsubscribes_.erase(it);
      return;  // the answer to our SUNSUBSCRIBE (the channel may have been subscribed again since)
    }
    if (!self->sharded_.erase(channel)) return;
    // Not asked for: Redis ended it (a Redis Cluster whose slot moved away). Drop the plain
    // subscription too, and let the owner subscribe it where it lives now.
    self->send_subscribe("UNSUBSCRIBE", channel);
    if (self->on_shard_)
      asio::post(self->io_, [self, alive = std::weak_ptr<int>(self->alive_), channel = std::move(channel)] {
        if (!alive.expired()) self->on_shard_(channel, {});
      });
  } else if (kind == "unsubscribe" && self->sharded_.contains(std::string(text(1)))) {
    // Sharded channel left and joined again before this confirmation: hiredis has just dropped
    // the callback registered by the new SUBSCRIBE, so register it again before the next reply.
    self->send_subscribe("SUBSCRIBE", std::string(text(1)));
  }
}

void RedisClient::send_subscribe(const char* verb, const std::string& what) {
  if (!ac_ || !connected_) return;  // sent on the next connect
  const char* args[] = {verb, what.c_str()};
  const std::size_t lens[] = {std::char_traits<char>::length(verb), what.size()};
  if (redisAsyncCommandArgv(ac_, &RedisClient::on_sub_cb, nullptr, 2, args, lens) == REDIS_OK &&
      std::string_view(verb).ends_with("SUBSCRIBE") && !std::string_view(verb).ends_with("UNSUBSCRIBE"))
    ++unconfirmed_;
}

void RedisClient::send_ssubscribe(const std::string& channel) {
  // SUBSCRIBE first: it puts hiredis in subscribed mode and registers the channel's callback,
  // which hiredis then also uses for the `ssubscribe` confirmation and every `smessage`.
  send_subscribe("SUBSCRIBE", channel);
  send_subscribe("SSUBSCRIBE", channel);
}

void RedisClient::subscribe(const std::string& channel) {
  if (channels_.insert(channel).second) send_subscribe("SUBSCRIBE", channel);
}
void RedisClient::psubscribe(const std::string& pattern) {
  if (patterns_.insert(pattern).second) send_subscribe("PSUBSCRIBE", pattern);
}
void RedisClient::unsubscribe(const std::string& channel) {
  if (channels_.erase(channel)) send_subscribe("UNSUBSCRIBE", channel);
}
void RedisClient::punsubscribe(const std::string& pattern) {
  if (patterns_.erase(pattern)) send_subscribe("PUNSUBSCRIBE", pattern);
}
void RedisClient::ssubscribe(const std::string& channel) {
  if (sharded_.insert(channel).second) send_ssubscribe(channel);
}
void RedisClient::sunsubscribe(const std::string& channel) {
  if (!sharded_.erase(channel)) return;
  // In this order: hiredis forgets the channel's callback on the `unsubscribe` confirmation.
  if (ac_ && connected_) ++asked_sunsubscribes_[channel];
  send_subscribe("SUNSUBSCRIBE", channel);
  send_subscribe("UNSUBSCRIBE", channel);
}

}  // namespace socketio::redis
