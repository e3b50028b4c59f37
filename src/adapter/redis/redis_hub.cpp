#include "adapter/redis/redis_hub.hpp"

#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <stdexcept>

namespace socketio::redis {

namespace asio = boost::asio;

RedisHub::RedisHub(RedisConfig config) : config_(std::move(config)), work_(asio::make_work_guard(io_)) {
  if (!config_.counters) config_.counters = std::make_shared<RedisCounters>();
  // hiredis assembles a whole reply before we see it: allow a few messages over the size limit
  // (dropped once complete), never an unbounded one.
  const std::size_t max_reply = std::max<std::size_t>(64 * 1024 * 1024, 4 * config_.max_message_size);
  if (config_.cluster) {
    start_cluster(max_reply);
    return;
  }
  std::string error;
  auto ep = parse_redis_url(config_.url, &error);
  if (!ep) throw std::invalid_argument("redis url '" + config_.url + "': " + error);
  pub_ = std::make_unique<RedisClient>(io_, *ep, "pub", max_reply);
  sub_ = std::make_unique<RedisClient>(io_, *ep, "sub", max_reply);
  for (auto* c : {pub_.get(), sub_.get()}) {
    c->set_max_backoff(config_.reconnect_max_delay);
    c->set_loss_counter(&counters().connection_losses);
  }
  sub_->set_message_handler(
      [this](std::string_view channel, std::string_view payload) { dispatch(channel, payload); });
  pub_->set_connect_handler([this] { report_unpublished(); });
  if (config_.mode == RedisMode::streams) {
    StreamReader::Options o{config_.key, config_.stream_read_count,   std::chrono::milliseconds(5000),
                            max_reply,   config_.reconnect_max_delay, &counters().connection_losses};
    reader_ = std::make_unique<StreamReader>(
        io_, *ep, std::move(o),
        [this](const StreamId& id, const FieldsView& fields) { dispatch_entry(id, fields); },
        [this] { counters().dropped.fetch_add(1, std::memory_order_relaxed); });
  }
  asio::post(io_, [this] {
    pub_->start();
    sub_->start();
    if (reader_) reader_->start();
  });
  thread_ = std::thread([this] { io_.run(); });
}

void RedisHub::start_cluster(std::size_t max_reply) {
  if (config_.mode == RedisMode::classic)
    throw std::invalid_argument(
        "a Redis Cluster needs the sharded or the streams mode (classic is not supported there)");
  ClusterRouter::Options o;
  o.max_reply_bytes = max_reply;
  o.max_backoff = config_.reconnect_max_delay;
  std::string_view urls = config_.url;
  while (!urls.empty()) {
    const auto comma = urls.find(',');
    const auto url = urls.substr(0, comma);
    std::string error;
    auto ep = parse_redis_url(url, &error);
    if (!ep) throw std::invalid_argument("redis url '" + std::string(url) + "': " + error);
    if (ep->db != 0)
      throw std::invalid_argument("redis url '" + std::string(url) +
                                  "': a Redis Cluster has database 0 only");
    o.seeds.push_back(std::move(*ep));
    urls = comma == std::string_view::npos ? std::string_view() : urls.substr(comma + 1);
  }
  if (o.seeds.empty()) throw std::invalid_argument("no Redis Cluster seed URL");
  cluster_ = std::make_unique<ClusterRouter>(
      io_, std::move(o), counters(),
      [this](std::string_view channel, std::string_view payload) { dispatch(channel, payload); },
      [this] { report_unpublished(); });
  if (config_.mode == RedisMode::streams) {
    StreamReader::Options ro{config_.key,
                             config_.stream_read_count,
                             std::chrono::milliseconds(5000),
                             max_reply,
                             config_.reconnect_max_delay,
                             &counters().connection_losses,
                             cluster_.get(),
                             &counters()};
    reader_ = std::make_unique<StreamReader>(
        io_, RedisEndpoint{}, std::move(ro),
        [this](const StreamId& id, const FieldsView& fields) { dispatch_entry(id, fields); },
        [this] { counters().dropped.fetch_add(1, std::memory_order_relaxed); });
    cluster_->set_map_handler([this] { reader_->on_map(); });
  }
  asio::post(io_, [this] {
    cluster_->start();
    if (reader_) reader_->start();
  });
  thread_ = std::thread([this] { io_.run(); });
}

RedisHub::~RedisHub() {
  asio::post(io_, [this] {
    closing_ = true;  // the replies failed by stop() below must not call back into the server
    if (cluster_) cluster_->stop();
    if (pub_) pub_->stop();
    if (sub_) sub_->stop();
    if (reader_) reader_->stop();
    for (auto& h : handlers()) h->on_hub_closing();
    io_.stop();
  });
  work_.reset();
  // Never on our own thread: the hub's owners are the adapters and the RedisConnection, not the
  // tasks that run here (RedisTransport). Joining keeps io_ alive until run() has returned.
  if (thread_.joinable()) thread_.join();
}

bool RedisHub::wait_until_subscribed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Posted, so it runs after every subscription posted before (one thread, FIFO).
    std::promise<bool> ready;
    auto answer = ready.get_future();
    // Streams: and the reader knows where it reads from (entries after that reach this node).
    post([this, &ready] {
      const bool up = cluster_ ? cluster_->ready() : pub_->connected() && sub_->subscribed();
      ready.set_value(up && (!reader_ || reader_->position()));
    });
    if (answer.get()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void RedisHub::add(std::shared_ptr<ChannelHandler> handler) {
  std::lock_guard lock(mutex_);
  handlers_.push_back(std::move(handler));
}

void RedisHub::remove(const std::shared_ptr<ChannelHandler>& handler) {
  std::lock_guard lock(mutex_);
  std::erase(handlers_, handler);
}

bool RedisHub::command(const std::vector<std::string_view>& argv, RedisClient::ReplyHandler on_reply) {
  if (cluster_)
    return cluster_->command(std::vector<std::string>(argv.begin(), argv.end()), std::move(on_reply));
  return pub_->command(argv, std::move(on_reply));
}

void RedisHub::subscribe(const std::string& channel) {
  if (cluster_)
    cluster_->subscribe(channel);
  else
    sub_->subscribe(channel);
}

void RedisHub::unsubscribe(const std::string& channel) {
  if (cluster_)
    cluster_->unsubscribe(channel);
  else
    sub_->unsubscribe(channel);
}

void RedisHub::count_subscribers(std::string_view verb, const std::string& channel,
                                 std::function<void(std::int64_t)> done) {
  if (cluster_ && verb == "NUMSUB") return cluster_->sum_over_masters({"PUBSUB", "NUMSUB", channel}, done);
  const bool sent = command({"PUBSUB", verb, channel}, [done](const redisReply* r) {
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_INTEGER)
      done(r->element[1]->integer);
    else
      done(-1);
  });
  if (!sent) done(-1);
}

void RedisHub::ssubscribe(const std::string& channel) {
  if (cluster_)
    cluster_->ssubscribe(channel);
  else
    sub_->ssubscribe(channel);
}

void RedisHub::sunsubscribe(const std::string& channel) {
  if (cluster_)
    cluster_->sunsubscribe(channel);
  else
    sub_->sunsubscribe(channel);
}

void RedisHub::publish(std::string channel, std::string payload) {
  const char* verb = config_.mode == RedisMode::sharded ? "SPUBLISH" : "PUBLISH";
  send({verb, std::move(channel), std::move(payload)}, [&c = counters()](const redisReply* r) {
    if (r && r->type != REDIS_REPLY_ERROR)
      c.published.fetch_add(1, std::memory_order_relaxed);
    else
      c.publish_failed.fetch_add(1, std::memory_order_relaxed);
  });
}

bool RedisHub::send(std::vector<std::string> argv, RedisClient::ReplyHandler done) {
  std::size_t bytes = 0;
  for (const auto& a : argv) bytes += a.size();
  if (queued_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > config_.max_publish_queue_bytes) {
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    counters().publish_overflow.fetch_add(1, std::memory_order_relaxed);
    if (!overflowing_.exchange(true))
      spdlog::warn(
          "redis: publish queue full ({} bytes waiting for Redis, limit {}): dropping publishes for the "
          "other nodes until it drains (local delivery goes on)",
          queued_bytes_.load(std::memory_order_relaxed), config_.max_publish_queue_bytes);
    return false;
  }
  post([this, bytes, argv = std::move(argv), done = std::move(done)]() mutable {
    auto answered = [this, bytes, done](const redisReply* r) {
      unqueue(bytes);
      if (done) done(r);
    };
    const std::vector<std::string_view> view(argv.begin(), argv.end());
    const bool sent = cluster_ ? cluster_->command(std::move(argv), answered) : pub_->command(view, answered);
    if (!sent) {
      unqueue(bytes);
      if (done) done(nullptr);
    }
  });
  return true;
}

void RedisHub::unqueue(std::size_t bytes) {
  // Once the queue is down to half its limit after an overflow, say how much was dropped.
  const auto left = queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed) - bytes;
  if (left > config_.max_publish_queue_bytes / 2 || !overflowing_.load(std::memory_order_relaxed)) return;
  overflowing_ = false;
  spdlog::warn("redis: publish queue drained; {} publish(es) dropped while Redis was slow (total)",
               counters().publish_overflow.load(std::memory_order_relaxed));
}

void RedisHub::report_unpublished() {
  const auto failed = counters().publish_failed.load(std::memory_order_relaxed);
  if (failed > reported_failed_)
    spdlog::warn(
        "redis: {} message(s) could not be published while Redis was unreachable (local delivery went on)",
        failed - reported_failed_);
  reported_failed_ = failed;
}

std::vector<std::shared_ptr<ChannelHandler>> RedisHub::handlers() {
  // A copy: a handler may remove itself (its namespace going away) while it is being called.
  std::lock_guard lock(mutex_);
  return handlers_;
}

void RedisHub::dispatch_entry(const StreamId& id, const FieldsView& fields) {
  std::size_t bytes = 0;
  for (const auto& [k, v] : fields) bytes += k.size() + v.size();
  if (bytes > config_.max_message_size) {
    counters().dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis: dropped the {}-byte entry {} of stream {} (limit {})", bytes, id.str(), config_.key,
                 config_.max_message_size);
    return;
  }
  for (auto& h : handlers())
    if (h->on_stream_entry(id, fields)) return;
}

void RedisHub::dispatch(std::string_view channel, std::string_view payload) {
  if (payload.size() > config_.max_message_size) {
    counters().dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis: dropped a {}-byte message on {} (limit {})", payload.size(), channel,
                 config_.max_message_size);
    return;
  }
  for (auto& h : handlers())
    if (h->on_redis_message(channel, payload)) return;
}

}  // namespace socketio::redis
