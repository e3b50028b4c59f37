#include "adapter/redis/stream_reader.hpp"

#include <boost/asio/post.hpp>

#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace socketio::redis {

namespace asio = boost::asio;

namespace {

// Where the stream ends, without reading its last entry's fields (which may be anything).
constexpr std::string_view kLastIdScript =
    "local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1) "
    "if e[1] then return e[1][1] end return '0-0'";
// The id of the first entry at or after ARGV[1] (the one too large to read), or nil.
constexpr std::string_view kNextIdScript =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', 1) "
    "if e[1] then return e[1][1] end return false";

std::string_view text(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

}  // namespace

struct StreamReader::Waiter {
  StreamId id;
  std::function<void(bool)> fn;
  std::unique_ptr<asio::steady_timer> timer;
};

StreamReader::StreamReader(asio::io_context& io, RedisEndpoint endpoint, Options options,
                           EntryHandler on_entry, std::function<void()> on_skipped)
    : io_(io),
      options_(std::move(options)),
      on_entry_(std::move(on_entry)),
      on_skipped_(std::move(on_skipped)),
      retry_timer_(io) {
  if (!options_.cluster) client_ = make_client(endpoint);
}

std::unique_ptr<RedisClient> StreamReader::make_client(const RedisEndpoint& endpoint) {
  auto c = std::make_unique<RedisClient>(io_, endpoint, "xread", options_.max_reply_bytes);
  c->set_connect_handler([this] { on_connected(); });
  c->set_max_backoff(options_.reconnect_max_delay);
  c->set_loss_counter(options_.losses);
  return c;
}

StreamReader::~StreamReader() {
  stop();
}

void StreamReader::start() {
  stopping_ = false;
  if (client_)
    client_->start();
  else
    locate();
}

void StreamReader::locate() {
  // Cluster, first start: waits for a map naming the stream's master (on_map()).
  if (const auto ep = options_.cluster->endpoint_of_key(options_.stream))
    move_to({ep->host, ep->port}, false);
}

void StreamReader::on_map() {
  if (stopping_ || !options_.cluster) return;
  const auto ep = options_.cluster->endpoint_of_key(options_.stream);
  if (!ep) return;
  const ClusterAddress owner{ep->host, ep->port};
  if (client_ && owner == at_) {
    asking_ = false;  // the migration ended here
    return;
  }
  // While the slot migrates, the map still names its old owner: stay on the importing master.
  if (client_ && asking_) return;
  if (client_) spdlog::info("redis xread: stream {} now lives on {}", options_.stream, owner.str());
  move_to(owner, false);
}

void StreamReader::move_to(const ClusterAddress& to, bool asking) {
  if (stopping_) return;
  asking_ = asking;
  if (client_ && to == at_) {
    // Sent back where it is (a master that changed its mind): read again, bounded by redirects_.
    busy_ = false;
    if (client_->connected()) on_connected();
    return;
  }
  // Never from inside the old connection's callbacks (callers post or run on a map).
  if (client_) client_->stop();
  ++generation_;
  busy_ = false;
  retry_timer_.cancel();
  at_ = to;
  client_ = make_client(options_.cluster->endpoint(to));
  client_->start();
}

bool StreamReader::send(const std::vector<std::string_view>& argv,
                        std::function<void(const redisReply*)> on_reply) {
  if (asking_) client_->command({"ASKING"});
  return client_->command(argv,
                          [this, gen = generation_, on_reply = std::move(on_reply)](const redisReply* r) {
                            if (gen != generation_ || redirected(r)) return;
                            if (r && r->type != REDIS_REPLY_ERROR) redirects_ = 0;
                            on_reply(r);
                          });
}

bool StreamReader::redirected(const redisReply* r) {
  if (!options_.cluster || stopping_ || !r || r->type != REDIS_REPLY_ERROR) return false;
  auto redirect = parse_redirect({r->str, r->len});
  if (!redirect) return false;
  options_.counters->cluster_redirects.fetch_add(1, std::memory_order_relaxed);
  if (++redirects_ > ClusterRouter::kMaxRedirects) {
    // Masters that disagree: the error reply goes on to retry_later() (a second), then again.
    options_.counters->cluster_redirect_failures.fetch_add(1, std::memory_order_relaxed);
    redirects_ = 0;
    return false;
  }
  if (redirect->to.host.empty()) redirect->to.host = at_.host;
  if (!redirect->ask) options_.cluster->learn_moved(*redirect);
  spdlog::debug("redis xread: stream {} {} to {}", options_.stream, redirect->ask ? "asked" : "moved",
                redirect->to.str());
  // Out of this connection's callback: the move replaces it.
  asio::post(io_, [this, gen = generation_, to = redirect->to, ask = redirect->ask] {
    if (gen == generation_) move_to(to, ask);
  });
  return true;
}

void StreamReader::stop() {
  stopping_ = true;
  retry_timer_.cancel();
  if (client_) client_->stop();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) {
    w->timer->cancel();
    if (auto fn = std::exchange(w->fn, nullptr)) fn(false);
  }
}

void StreamReader::on_connected() {
  // Replies of the previous connection were all failed before this one connected.
  busy_ = false;
  retry_timer_.cancel();
  if (!position_)
    find_end();
  else if (skip_next_)
    skip();
  else
    read();
}

void StreamReader::retry_later(const char* what, const redisReply* r) {
  busy_ = false;
  if (!failing_)
    spdlog::error("redis xread: {} on stream {} failed: {}; retrying every second", what, options_.stream,
                  r && r->type == REDIS_REPLY_ERROR ? std::string_view(r->str, r->len) : "unexpected reply");
  failing_ = true;
  retry_timer_.expires_after(std::chrono::seconds(1));
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_ || busy_ || !client_->connected()) return;
    on_connected();
  });
}

void StreamReader::find_end() {
  busy_ = send({"EVAL", kLastIdScript, "1", options_.stream}, [this](const redisReply* r) {
    if (!r || stopping_) return;  // the next connection starts over
    if (r->type == REDIS_REPLY_ERROR) return find_end_without_script();
    start_at(parse_stream_id(text(r)), r);
  });
}

void StreamReader::find_end_without_script() {
  // Scripts refused (an ACL, a managed Redis): the last entry itself, within the reply limit.
  busy_ = send({"XREVRANGE", options_.stream, "+", "-", "COUNT", "1"}, [this](const redisReply* r) {
    if (!r || stopping_) return;
    if (r->type != REDIS_REPLY_ARRAY) return retry_later("finding the end of the stream", r);
    if (r->elements == 0) return start_at(StreamId{}, r);
    const auto* e = r->element[0];
    start_at(e->type == REDIS_REPLY_ARRAY && e->elements == 2 ? parse_stream_id(text(e->element[0]))
                                                              : std::nullopt,
             r);
  });
}

void StreamReader::start_at(std::optional<StreamId> id, const redisReply* r) {
  if (!id) return retry_later("finding the end of the stream", r);
  busy_ = false;
  failing_ = false;
  position_ = id;
  spdlog::debug("redis xread: stream {} read from {}", options_.stream, id->str());
  advance(*id);
  read();
}

void StreamReader::skip() {
  const std::string from = position_->next().str();
  busy_ = send({"EVAL", kNextIdScript, "1", options_.stream, from}, [this](const redisReply* r) {
    if (!r || stopping_) return;
    if (r->type == REDIS_REPLY_ERROR) return retry_later("finding the entry to skip", r);
    busy_ = false;
    skip_next_ = false;
    one_at_a_time_ = false;
    if (const auto id = parse_stream_id(text(r))) {
      spdlog::warn("redis xread: entry {} of stream {} is over the reply limit ({} bytes): skipped",
                   id->str(), options_.stream, options_.max_reply_bytes);
      if (on_skipped_) on_skipped_();
      position_ = id;
      advance(*id);
    }
    read();
  });
}

void StreamReader::read() {
  if (stopping_ || busy_) return;
  const std::string count = std::to_string(one_at_a_time_ ? 1 : options_.read_count);
  const std::string block = std::to_string(options_.block.count());
  const std::string from = position_->str();
  oversized_seen_ = client_->oversized_drops();
  busy_ = send({"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", options_.stream, from},
               [this](const redisReply* r) { on_read(r); });
}

void StreamReader::on_read(const redisReply* r) {
  if (stopping_) return;
  if (!r) {
    // The connection went away (the next one reads on). Over the reply limit: one entry at a time,
    // and if even one is too large, skip it.
    if (client_->oversized_drops() != oversized_seen_) {
      if (one_at_a_time_) skip_next_ = true;
      one_at_a_time_ = true;
    }
    return;
  }
  if (r->type == REDIS_REPLY_NIL) {  // BLOCK ran out: nothing new
    busy_ = false;
    return read();
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->type != REDIS_REPLY_ARRAY ||
      r->element[0]->elements != 2 || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    return retry_later("XREAD", r);
  busy_ = false;
  failing_ = false;
  one_at_a_time_ = false;
  const auto* entries = r->element[0]->element[1];
  FieldsView fields;
  for (std::size_t i = 0; i < entries->elements; ++i) {
    const auto* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    const auto id = parse_stream_id(text(e->element[0]));
    if (!id || *id <= *position_) continue;
    fields.clear();
    const auto* f = e->element[1];
    if (f->type == REDIS_REPLY_ARRAY)
      for (std::size_t j = 0; j + 1 < f->elements; j += 2)
        fields.emplace_back(text(f->element[j]), text(f->element[j + 1]));
    on_entry_(*id, fields);
    position_ = id;
  }
  advance(*position_);
  read();
}

void StreamReader::advance(const StreamId& id) {
  if (waiters_.empty()) return;
  std::vector<std::shared_ptr<Waiter>> done;
  std::erase_if(waiters_, [&](const std::shared_ptr<Waiter>& w) {
    if (w->id > id) return false;
    done.push_back(w);
    return true;
  });
  for (auto& w : done) {
    w->timer->cancel();
    if (auto fn = std::exchange(w->fn, nullptr)) fn(true);
  }
}

void StreamReader::when_reached(StreamId id, std::chrono::steady_clock::time_point deadline,
                                std::function<void(bool)> fn) {
  if (position_ && *position_ >= id) return fn(true);
  if (stopping_) return fn(false);
  auto w = std::make_shared<Waiter>(
      Waiter{id, std::move(fn), std::make_unique<asio::steady_timer>(io_, deadline)});
  waiters_.push_back(w);
  w->timer->async_wait([this, w](boost::system::error_code ec) {
    if (ec) return;
    std::erase(waiters_, w);
    if (auto f = std::exchange(w->fn, nullptr)) f(false);
  });
}

}  // namespace socketio::redis
