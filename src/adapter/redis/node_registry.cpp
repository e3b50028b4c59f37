#include "adapter/redis/node_registry.hpp"

#include "adapter/redis/redis_hub.hpp"
#include "core/id.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <future>

namespace socketio::redis {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool ok_reply(const redisReply* r) {
  return r && r->type != REDIS_REPLY_ERROR;
}

// Runs fn on the Redis thread and waits for it (bounded: the hub's thread never stalls long).
template <class Fn>
void run_on(RedisHub& hub, Fn fn) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  hub.post([fn = std::move(fn), done]() mutable {
    fn();
    done->set_value();
  });
  finished.wait_for(std::chrono::seconds(2));
}

}  // namespace

// One refresh: the records read back so far, and the replies still awaited.
struct NodeRegistry::Round {
  std::vector<cluster::NodeRecord> records;
  std::size_t awaited = 0;
  bool ok = true;
  bool listed = false;  // the ZRANGE answered
};

NodeRegistry::NodeRegistry(std::shared_ptr<RedisHub> hub, Options options,
                           std::function<std::uint64_t()> clients)
    : hub_(std::move(hub)),
      options_(std::move(options)),
      clients_(std::move(clients)),
      refresh_(std::max(std::chrono::milliseconds(250), options_.ttl / 4)),
      timer_(hub_->io()) {
  self_.id = core::make_random_id();
  self_.url = options_.public_url;
  self_.weight = options_.weight;
  self_.started = now_ms();
  const std::string& key = hub_->config().key;
  index_key_ = key + "#nodes";
  record_key_ = key + "#node#" + self_.id;
  picker_.update({self_});
}

NodeRegistry::~NodeRegistry() = default;

void NodeRegistry::start() {
  hub_->post([self = shared_from_this()] {
    self->cpu_at_ = std::chrono::steady_clock::now();
    self->cpu_load();
    self->tick();
  });
}

void NodeRegistry::stop() {
  run_on(*hub_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

bool NodeRegistry::withdraw(std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<bool>>();
  auto answered = done->get_future();
  hub_->post([self = shared_from_this(), done] {
    self->stopped_ = true;
    self->timer_.cancel();
    // From now on this node sends first contacts elsewhere: it is draining.
    auto nodes = self->picker_.nodes();
    std::erase_if(nodes, [&](const cluster::NodeRecord& r) { return r.id == self->self_.id; });
    self->picker_.update(std::move(nodes));
    const bool sent = self->hub_->command({"DEL", self->record_key_}, {}) &&
                      self->hub_->command({"ZREM", self->index_key_, self->self_.id},
                                          [done](const redisReply* r) { done->set_value(ok_reply(r)); });
    if (!sent) done->set_value(false);
  });
  return answered.wait_for(timeout) == std::future_status::ready && answered.get();
}

void NodeRegistry::tick() {
  if (stopped_) return;
  announce();
  timer_.expires_after(refresh_);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

// Redis thread: one pipelined round (see the header for the keys).
void NodeRegistry::announce() {
  const std::int64_t now = now_ms();
  self_.clients = clients_();
  self_.load = cpu_load();
  self_.updated = now;
  auto round = std::make_shared<Round>();
  auto check = [round](const redisReply* r) {
    if (!ok_reply(r)) round->ok = false;
  };
  const std::string record = cluster::encode(self_);
  const std::string px = std::to_string((options_.ttl / 2).count());
  const std::string expiry = std::to_string(now + options_.ttl.count());
  const std::string prune = "(" + std::to_string(now - options_.ttl.count());
  const std::string last = std::to_string(kMaxNodes - 1);
  const bool sent = hub_->command({"SET", record_key_, record, "PX", px}, check) &&
                    hub_->command({"ZADD", index_key_, expiry, self_.id}, check) &&
                    hub_->command({"ZREMRANGEBYSCORE", index_key_, "-inf", prune}, check) &&
                    hub_->command({"ZRANGE", index_key_, "0", last}, [self = shared_from_this(),
                                                                      round](const redisReply* r) {
                      if (!r || r->type != REDIS_REPLY_ARRAY) {
                        round->ok = false;
                        return self->finish(round);
                      }
                      round->listed = true;
                      std::vector<std::string> ids;
                      for (std::size_t i = 0; i < r->elements; ++i) {
                        const redisReply* e = r->element[i];
                        if (e->type == REDIS_REPLY_STRING && e->len > 0 && e->len <= cluster::kMaxIdBytes)
                          ids.emplace_back(e->str, e->len);
                        else
                          self->counters_.records_dropped.fetch_add(1, std::memory_order_relaxed);
                      }
                      self->read_nodes(round, std::move(ids));
                    });
  if (!sent) failed("not connected");
}

void NodeRegistry::read_nodes(const std::shared_ptr<Round>& round, std::vector<std::string> ids) {
  for (const std::string& id : ids) {
    auto on_record = [self = shared_from_this(), round, id](const redisReply* r) {
      if (r && r->type == REDIS_REPLY_STRING) {
        std::string why;
        auto record = cluster::decode_node_record(std::string_view(r->str, r->len), &why);
        if (record && record->id == id) {
          round->records.push_back(std::move(*record));
        } else {
          self->counters_.records_dropped.fetch_add(1, std::memory_order_relaxed);
          spdlog::debug("cluster: dropped the registry record of node {}: {}", id,
                        record ? "id mismatch" : why);
        }
      } else if (!r || r->type == REDIS_REPLY_ERROR) {
        round->ok = false;
      }  // nil: the node stopped refreshing and its record expired
      if (--round->awaited == 0) self->finish(round);
    };
    if (!hub_->command({"GET", hub_->config().key + "#node#" + id}, on_record)) {
      round->ok = false;
      break;
    }
    ++round->awaited;
  }
  if (round->awaited == 0) finish(round);
}

void NodeRegistry::finish(const std::shared_ptr<Round>& round) {
  if (stopped_) return;  // withdrawn meanwhile: the picker already left this node out
  if (round->listed) {
    std::sort(round->records.begin(), round->records.end(),
              [](const cluster::NodeRecord& a, const cluster::NodeRecord& b) { return a.id < b.id; });
    picker_.update(std::move(round->records));
  }
  if (!round->ok) return failed("a command failed");
  last_listed_ = std::chrono::steady_clock::now();
  counters_.refreshes.fetch_add(1, std::memory_order_relaxed);
  if (failing_) spdlog::info("cluster: the node registry in Redis answers again");
  failing_ = false;
}

void NodeRegistry::failed(const char* what) {
  counters_.refresh_failures.fetch_add(1, std::memory_order_relaxed);
  if (!failing_) spdlog::warn("cluster: cannot refresh the node registry in Redis ({}); retrying", what);
  failing_ = true;
  // Without Redis nothing says which nodes still live: after one ttl, list only this one.
  if (!stopped_ && std::chrono::steady_clock::now() - last_listed_ > options_.ttl) picker_.update({self_});
}

// CPU time of the process since the last call, in % of its worker threads' time.
std::uint32_t NodeRegistry::cpu_load() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  const auto now = std::chrono::steady_clock::now();
  const double wall = std::chrono::duration<double>(now - cpu_at_).count();
  const double used = cpu - cpu_seconds_;
  cpu_seconds_ = cpu;
  cpu_at_ = now;
  if (wall <= 0) return 0;
  const double share = used / wall / static_cast<double>(std::max<std::size_t>(1, options_.threads));
  return static_cast<std::uint32_t>(std::lround(std::clamp(share, 0.0, 1.0) * 100));
}

}  // namespace socketio::redis
