#include "adapter/redis/cluster_router.hpp"

#include <boost/asio/post.hpp>

#include <hiredis/hiredis.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace socketio::redis {

namespace asio = boost::asio;

struct ClusterRouter::Node {
  ClusterAddress addr;
  std::unique_ptr<RedisClient> pub;
  std::unique_ptr<RedisClient> sub;
};

// A command with its bytes (kept for a redirection) and where it has been sent so far.
struct ClusterRouter::Command {
  std::vector<std::string> argv;
  RedisClient::ReplyHandler done;
  int redirects = 0;
};

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return std::toupper(static_cast<unsigned char>(x)) == y; });
}

// Where the routing key is: PUBSUB SHARDNUMSUB <channel>, otherwise the first argument.
std::string_view routing_key(const std::vector<std::string>& argv) {
  if (argv.size() >= 3 && iequals(argv[0], "PUBSUB")) return argv[2];
  return argv.size() >= 2 ? std::string_view(argv[1]) : std::string_view();
}

}  // namespace

ClusterRouter::ClusterRouter(asio::io_context& io, Options options, RedisCounters& counters,
                             RedisClient::MessageHandler on_message,
                             std::function<void()> on_master_connected)
    : io_(io),
      options_(std::move(options)),
      counters_(counters),
      on_message_(std::move(on_message)),
      on_master_connected_(std::move(on_master_connected)),
      refresh_timer_(io) {}

ClusterRouter::~ClusterRouter() {
  stop();
}

void ClusterRouter::start() {
  stopping_ = false;
  for (const auto& seed : options_.seeds) node({seed.host, seed.port});
  request_refresh("start");
}

void ClusterRouter::stop() {
  stopping_ = true;
  refresh_timer_.cancel();
  for (auto& [name, n] : nodes_) {
    n->pub->stop();
    n->sub->stop();
  }
}

ClusterRouter::Node& ClusterRouter::node(const ClusterAddress& addr) {
  const std::string name = addr.str();
  auto& slot = nodes_[name];
  if (slot) return *slot;
  const RedisEndpoint ep = endpoint(addr);
  slot = std::make_unique<Node>();
  slot->addr = addr;
  slot->pub = std::make_unique<RedisClient>(io_, ep, "pub " + name, options_.max_reply_bytes);
  slot->sub = std::make_unique<RedisClient>(io_, ep, "sub " + name, options_.max_reply_bytes);
  for (auto* c : {slot->pub.get(), slot->sub.get()}) {
    c->set_max_backoff(options_.max_backoff);
    c->set_loss_counter(&counters_.connection_losses);
  }
  slot->sub->set_message_handler(on_message_);
  slot->pub->set_connect_handler([this] {
    if (on_master_connected_) on_master_connected_();
  });
  // A master restarted or failed over: the slots may be elsewhere now.
  slot->sub->set_lost_handler([this] { request_refresh("a master's connection was lost"); });
  slot->sub->set_shard_handler(
      [this, name](std::string channel, std::string error) { on_shard_trouble(name, channel, error); });
  slot->pub->start();
  slot->sub->start();
  return *slot;
}

RedisEndpoint ClusterRouter::endpoint(const ClusterAddress& addr) const {
  RedisEndpoint ep = options_.seeds.front();
  ep.host = addr.host;
  ep.port = addr.port;
  ep.db = 0;
  return ep;
}

std::optional<RedisEndpoint> ClusterRouter::endpoint_of_key(std::string_view key) const {
  if (!have_map_) return std::nullopt;
  const ClusterAddress* addr = map_.owner_of(key_slot(key));
  if (!addr) return std::nullopt;
  return endpoint(*addr);
}

ClusterRouter::Node* ClusterRouter::owner(std::string_view key) {
  if (!have_map_) return nullptr;
  const ClusterAddress* addr = map_.owner_of(key_slot(key));
  if (!addr) return nullptr;
  return &node(*addr);
}

bool ClusterRouter::command(std::vector<std::string> argv, RedisClient::ReplyHandler on_reply) {
  Node* to = owner(routing_key(argv));
  if (!to || !to->pub->connected()) return false;
  send(std::make_shared<Command>(Command{std::move(argv), std::move(on_reply)}), *to, false);
  return true;
}

void ClusterRouter::send(std::shared_ptr<Command> cmd, Node& to, bool asking) {
  if (asking) to.pub->command({"ASKING"});
  const std::vector<std::string_view> view(cmd->argv.begin(), cmd->argv.end());
  const bool sent = to.pub->command(
      view, [this, alive = std::weak_ptr<int>(alive_), cmd, from = to.addr.str()](const redisReply* r) {
        if (alive.expired()) {
          if (cmd->done) cmd->done(nullptr);
          return;
        }
        on_reply(cmd, from, r);
      });
  if (!sent && cmd->done) cmd->done(nullptr);
}

void ClusterRouter::on_reply(const std::shared_ptr<Command>& cmd, const std::string& from,
                             const redisReply* r) {
  std::optional<Redirect> redirect;
  if (r && r->type == REDIS_REPLY_ERROR && !stopping_) redirect = parse_redirect({r->str, r->len});
  if (!redirect) {
    if (cmd->done) cmd->done(r);
    return;
  }
  counters_.cluster_redirects.fetch_add(1, std::memory_order_relaxed);
  if (++cmd->redirects > kMaxRedirects) {
    counters_.cluster_redirect_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("redis cluster: {} redirected more than {} times (last: {}); failed", cmd->argv.front(),
                 kMaxRedirects, std::string_view(r->str, r->len));
    if (cmd->done) cmd->done(r);
    return;
  }
  if (redirect->to.host.empty()) redirect->to.host = from.substr(0, from.rfind(':'));
  if (!redirect->ask) learn_moved(*redirect);
  Node& to = node(redirect->to);
  if (!to.pub->connected()) {
    if (cmd->done) cmd->done(nullptr);
    return;
  }
  send(cmd, to, redirect->ask);
}

void ClusterRouter::learn_moved(const Redirect& redirect) {
  // The slot lives there now: remember it at once (the next commands go straight there), and
  // read the whole map again (a MOVED rarely comes alone).
  auto& masters = map_.masters;
  auto it = std::find(masters.begin(), masters.end(), redirect.to);
  if (it == masters.end() && masters.size() < kMaxClusterMasters)
    it = masters.insert(masters.end(), redirect.to);
  if (it != masters.end() && have_map_)
    map_.owner[redirect.slot] = static_cast<std::int16_t>(it - masters.begin());
  request_refresh("MOVED");
}

void ClusterRouter::sum_over_masters(std::vector<std::string> argv, std::function<void(std::int64_t)> done) {
  struct Sum {
    std::size_t waiting = 0;
    std::int64_t total = 0;
    bool answered = false;
    std::function<void(std::int64_t)> done;
  };
  auto sum = std::make_shared<Sum>();
  sum->done = std::move(done);
  std::vector<Node*> masters;
  if (have_map_)
    for (const auto& m : map_.masters) masters.push_back(&node(m));
  if (masters.empty()) return sum->done(-1);
  sum->waiting = masters.size();
  const std::vector<std::string_view> view(argv.begin(), argv.end());
  for (Node* n : masters) {
    auto answer = [sum](const redisReply* r) {
      if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[1]->type == REDIS_REPLY_INTEGER) {
        sum->total += r->element[1]->integer;
        sum->answered = true;
      }
      if (--sum->waiting == 0) sum->done(sum->answered ? sum->total : -1);
    };
    if (!n->pub->command(view, answer)) answer(nullptr);
  }
}

void ClusterRouter::request_refresh(const char* why) {
  if (stopping_ || refresh_scheduled_) return;
  refresh_scheduled_ = true;
  const auto since = std::chrono::steady_clock::now() - last_refresh_;
  const auto wait = since >= kMinRefreshInterval ? std::chrono::steady_clock::duration::zero()
                                                 : kMinRefreshInterval - since;
  spdlog::debug("redis cluster: reading the slot map ({})", why);
  refresh_timer_.expires_after(wait);
  refresh_timer_.async_wait([this](boost::system::error_code ec) {
    refresh_scheduled_ = false;
    if (!ec) refresh();
  });
}

void ClusterRouter::refresh() {
  if (stopping_) return;
  if (refreshing_) return request_refresh("again");
  last_refresh_ = std::chrono::steady_clock::now();
  // Any connected node knows the whole map: a known master first, else a seed.
  Node* asked = nullptr;
  for (auto& [name, n] : nodes_)
    if (n->pub->connected()) {
      asked = n.get();
      break;
    }
  if (!asked) {
    counters_.cluster_refresh_failures.fetch_add(1, std::memory_order_relaxed);
    return request_refresh("no node reachable yet");
  }
  refreshing_ = true;
  const bool sent = asked->pub->command(
      {"CLUSTER", "SLOTS"}, [this, alive = std::weak_ptr<int>(alive_), host = asked->addr.host,
                             name = asked->addr.str()](const redisReply* r) {
        if (alive.expired()) return;
        refreshing_ = false;
        std::string why = "no reply";
        std::optional<SlotMap> map;
        if (r && r->type == REDIS_REPLY_ERROR)
          why = std::string(r->str, r->len);
        else if (r)
          map = parse_cluster_slots(r, host, &why);
        if (!map) {
          counters_.cluster_refresh_failures.fetch_add(1, std::memory_order_relaxed);
          spdlog::warn("redis cluster: CLUSTER SLOTS from {} unusable: {}", name, why);
          return request_refresh("retry");
        }
        // Not from inside this node's hiredis callback: applying may drop the node.
        asio::post(io_, [this, alive, map = std::move(*map)]() mutable {
          if (!alive.expired() && !stopping_) apply(std::move(map));
        });
      });
  if (!sent) {
    refreshing_ = false;
    counters_.cluster_refresh_failures.fetch_add(1, std::memory_order_relaxed);
    request_refresh("retry");
  }
}

void ClusterRouter::apply(SlotMap map) {
  counters_.cluster_refreshes.fetch_add(1, std::memory_order_relaxed);
  // Logged when the masters or the coverage change; slots moving between the same masters (a
  // reshard under way: many maps in a row) only at debug level.
  const bool news = !have_map_ || map.masters != map_.masters || map.covered() != map_.covered();
  const bool moved = have_map_ && map.owner != map_.owner;
  map_ = std::move(map);
  have_map_ = true;
  spdlog::log(news ? spdlog::level::info : spdlog::level::debug,
              "redis cluster: {} master(s) serve {} of {} slots{}", map_.masters.size(), map_.covered(),
              kClusterSlots, moved ? " (slots moved)" : "");
  for (const auto& m : map_.masters) node(m);
  place_channels();
  if (on_map_) on_map_();
  // Masters no longer in the map (and not seeds) are dropped, once nothing is subscribed there.
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    const auto& addr = it->second->addr;
    const bool master = std::find(map_.masters.begin(), map_.masters.end(), addr) != map_.masters.end();
    const bool seed = std::any_of(options_.seeds.begin(), options_.seeds.end(), [&](const RedisEndpoint& s) {
      return s.host == addr.host && s.port == addr.port;
    });
    if (master || seed) {
      ++it;
      continue;
    }
    spdlog::info("redis cluster: {} is no longer a master; closing its connections", it->first);
    it = nodes_.erase(it);
  }
}

void ClusterRouter::place_channels() {
  if (!have_map_) return;
  for (const auto& channel : channels_) place(channel, true);
  for (const auto& channel : plain_) place(channel, false);
  first_placement_ = false;
}

void ClusterRouter::place(const std::string& channel, bool sharded) {
  const ClusterAddress* addr = map_.owner_of(key_slot(channel));
  if (!addr) return;  // an uncovered slot: placed when a map covers it
  const std::string home = addr->str();
  auto has = [&](const RedisClient& c) { return sharded ? c.has_sharded(channel) : c.has_channel(channel); };
  // Left on the old master first: Redis never ends a plain subscription by itself, and a message
  // must not reach this node twice.
  for (auto& [name, n] : nodes_) {
    if (name == home || !has(*n->sub)) continue;
    if (sharded)
      n->sub->sunsubscribe(channel);
    else
      n->sub->unsubscribe(channel);
  }
  Node& to = node(*addr);
  if (has(*to.sub)) return;
  if (!first_placement_) counters_.cluster_resubscribes.fetch_add(1, std::memory_order_relaxed);
  if (sharded)
    to.sub->ssubscribe(channel);
  else
    to.sub->subscribe(channel);
}

void ClusterRouter::ssubscribe(const std::string& channel) {
  if (!channels_.insert(channel).second || !have_map_) return;
  if (const ClusterAddress* addr = map_.owner_of(key_slot(channel))) node(*addr).sub->ssubscribe(channel);
}

void ClusterRouter::sunsubscribe(const std::string& channel) {
  if (!channels_.erase(channel)) return;
  for (auto& [name, n] : nodes_)
    if (n->sub->has_sharded(channel)) n->sub->sunsubscribe(channel);
}

void ClusterRouter::subscribe(const std::string& channel) {
  if (!plain_.insert(channel).second || !have_map_) return;
  if (const ClusterAddress* addr = map_.owner_of(key_slot(channel))) node(*addr).sub->subscribe(channel);
}

void ClusterRouter::unsubscribe(const std::string& channel) {
  if (!plain_.erase(channel)) return;
  for (auto& [name, n] : nodes_)
    if (n->sub->has_channel(channel)) n->sub->unsubscribe(channel);
}

void ClusterRouter::on_shard_trouble(const std::string& from, const std::string& channel,
                                     const std::string& error) {
  if (stopping_) return;
  if (!channel.empty()) {
    spdlog::info("redis cluster: {} ended the subscription to {} (its slot moved); subscribing it again",
                 from, channel);
  } else if (auto redirect = parse_redirect(error)) {
    // A sharded subscribe refused: the channels of that slot are not subscribed there, whatever
    // this node believed; forget them there so that the new map places them again.
    auto it = nodes_.find(from);
    if (it != nodes_.end())
      for (const auto& c : channels_)
        if (key_slot(c) == redirect->slot && it->second->sub->has_sharded(c))
          it->second->sub->forget_sharded(c);
  } else {
    spdlog::warn("redis cluster: {} refused a sharded subscription: {}", from, error);
  }
  request_refresh("a sharded subscription moved");
}

bool ClusterRouter::ready() const {
  if (!have_map_ || map_.covered() == 0) return false;
  for (const auto& m : map_.masters) {
    auto it = nodes_.find(m.str());
    if (it == nodes_.end() || !it->second->pub->connected() || !it->second->sub->subscribed()) return false;
  }
  for (const auto* set : {&channels_, &plain_})
    for (const auto& channel : *set) {
      const ClusterAddress* addr = map_.owner_of(key_slot(channel));
      if (!addr) return false;
      auto it = nodes_.find(addr->str());
      if (it == nodes_.end()) return false;
      const auto& sub = *it->second->sub;
      if (set == &channels_ ? !sub.has_sharded(channel) : !sub.has_channel(channel)) return false;
    }
  return true;
}

}  // namespace socketio::redis
