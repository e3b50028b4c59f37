// socketio::redis::ClusterTopology (include/socketio/topology.hpp): the node registry
// (node_registry.hpp) and the two HTTP routes answered from it.
#include "socketio/topology.hpp"

#include "adapter/cluster/node_record.hpp"
#include "adapter/redis/node_registry.hpp"
#include "adapter/redis/redis_hub.hpp"
#include "adapter/redis/session_forwarder.hpp"
#include "sio/server_access.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse_query.hpp>

#include <atomic>
#include <stdexcept>

namespace socketio::redis {

namespace {

// ?exclude= values honoured per pick; more are ignored (a client lists the nodes it just lost).
constexpr std::size_t kMaxExcluded = 8;

struct PickCounters {
  std::atomic<std::uint64_t> picked{0};
  std::atomic<std::uint64_t> unavailable{0};  // 503: no node takes new clients
};

net::HttpResponse json_response(unsigned status, std::string body) {
  net::HttpResponse res;
  res.status = status;
  res.set("Content-Type", "application/json");
  // Answers change every refresh and differ per client: never cached by a browser or proxy.
  res.set("Cache-Control", "no-store");
  res.body = std::move(body);
  return res;
}

class TopologyRoutes final : public net::HttpHandler {
 public:
  TopologyRoutes(const Server& server, std::shared_ptr<NodeRegistry> registry, const TopologyOptions& o,
                 std::shared_ptr<PickCounters> counters)
      : server_(server),
        registry_(std::move(registry)),
        nodes_path_(o.nodes_path),
        pick_path_(o.pick_path),
        counters_(std::move(counters)) {}

  bool matches(const net::HttpRequest& r) const noexcept {
    const auto path = r.path();
    return path == nodes_path_ || path == pick_path_;
  }

  void on_request(net::HttpRequest&& req, net::ResponderPtr responder) override {
    net::HttpResponse res;
    if (req.method == net::Method::options) {
      if (auto pre = ServerAccess::cors_preflight(server_, req)) return responder->respond(std::move(*pre));
    }
    if (req.method != net::Method::get && req.method != net::Method::head) {
      res = json_response(405, R"({"error":"method not allowed"})");
      res.set("Allow", "GET, HEAD, OPTIONS");
    } else if (req.path() == nodes_path_) {
      res = nodes();
    } else {
      res = pick(req);
    }
    ServerAccess::add_cors_headers(server_, req, res);
    if (req.method == net::Method::head) res.body.clear();
    responder->respond(std::move(res));
  }

  void on_upgrade(net::WebSocketPtr ws) override {
    net::HttpResponse res = json_response(400, R"({"error":"not a WebSocket endpoint"})");
    res.close = true;
    ws->reject(std::move(res));
  }

 private:
  net::HttpResponse nodes() const {
    boost::json::array list;
    for (const auto& r : registry_->picker().nodes()) list.push_back(cluster::to_json(r));
    return json_response(200, boost::json::serialize(boost::json::object{{"self", registry_->id()},
                                                                         {"nodes", std::move(list)}}));
  }

  net::HttpResponse pick(const net::HttpRequest& req) {
    std::vector<std::string> excluded;
    if (auto parsed = boost::urls::parse_query(req.query())) {
      for (auto p : *parsed) {
        if (excluded.size() == kMaxExcluded) break;
        if (p.key.decode() == "exclude" && p.value.size() <= cluster::kMaxUrlBytes * 3)
          excluded.push_back(p.value.decode());
      }
    }
    const std::vector<std::string_view> exclude(excluded.begin(), excluded.end());
    const auto url = registry_->picker().pick(exclude);
    if (!url) {
      counters_->unavailable.fetch_add(1, std::memory_order_relaxed);
      net::HttpResponse res = json_response(503, R"({"error":"no node takes new clients"})");
      res.set("Retry-After", "1");
      return res;
    }
    counters_->picked.fetch_add(1, std::memory_order_relaxed);
    return json_response(200, boost::json::serialize(boost::json::object{{"url", *url}}));
  }

  const Server& server_;
  std::shared_ptr<NodeRegistry> registry_;
  std::string nodes_path_;
  std::string pick_path_;
  std::shared_ptr<PickCounters> counters_;
};

void check_path(const std::string& path, const char* what) {
  if (path.empty() || path.front() != '/' || path.find_first_of("?# \t\r\n") != std::string::npos)
    throw std::invalid_argument(std::string(what) + ": '" + path + "' is not a path starting with '/'");
}

}  // namespace

struct ClusterTopology::Impl {
  std::shared_ptr<NodeRegistry> registry;
  TopologyOptions options;
};

ClusterTopology::ClusterTopology(Server& server, const RedisConnection& redis, TopologyOptions options)
    : impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!cluster::check_public_url(options.public_url, &why))
    throw std::invalid_argument("public url '" + options.public_url + "': " + why);
  if (options.weight > cluster::kMaxNodeWeight)
    throw std::invalid_argument("node weight: " + std::to_string(options.weight) + " is over " +
                                std::to_string(cluster::kMaxNodeWeight));
  if (options.ttl < std::chrono::seconds(1))
    throw std::invalid_argument("node ttl: " + std::to_string(options.ttl.count()) + " ms is under 1000 ms");
  check_path(options.nodes_path, "nodes path");
  check_path(options.pick_path, "pick path");
  if (options.nodes_path == options.pick_path)
    throw std::invalid_argument("the nodes and pick paths are the same");
  // The URL as clients compare it (exclude=): without a trailing slash.
  if (options.public_url.ends_with('/')) options.public_url.pop_back();

  impl_->options = options;
  NodeRegistry::Options ro{options.public_url, options.weight, options.ttl, server.options().threads};
  const Server* srv = &server;
  impl_->registry = std::make_shared<NodeRegistry>(redis.hub_, ro, [srv] { return srv->client_count(); });

  auto counters = std::make_shared<PickCounters>();
  auto routes = std::make_shared<TopologyRoutes>(server, impl_->registry, options, counters);
  // The router keeps the routes (and so the registry's view) for as long as the server lives.
  ServerAccess::add_route(
      server, [routes](const net::HttpRequest& r) { return routes->matches(r); }, *routes);

  server.metrics().add_collector([registry = impl_->registry, counters](MetricsSink& sink) {
    const auto n = [](const std::atomic<std::uint64_t>& a) { return static_cast<double>(a.load()); };
    const auto& c = registry->counters();
    sink.gauge("socketio_cluster_nodes", "Live nodes in this node's view of the registry", {},
               static_cast<double>(registry->picker().nodes().size()));
    sink.counter("socketio_cluster_picks_total", "First contacts answered by /cluster/pick",
                 {{"result", "picked"}}, n(counters->picked));
    sink.counter("socketio_cluster_picks_total", "First contacts answered by /cluster/pick",
                 {{"result", "unavailable"}}, n(counters->unavailable));
    sink.counter("socketio_cluster_registry_refreshes_total",
                 "Registry rounds (announce and list) that succeeded", {}, n(c.refreshes));
    sink.counter("socketio_cluster_registry_failures_total",
                 "Registry rounds that failed (Redis down or refusing)", {}, n(c.refresh_failures));
    sink.counter("socketio_cluster_registry_records_dropped_total",
                 "Registry records read back from Redis that were malformed", {}, n(c.records_dropped));
  });
}

ClusterTopology::~ClusterTopology() {
  impl_->registry->stop();
}

void ClusterTopology::start() {
  impl_->registry->start();
  spdlog::info("cluster: announcing {} as node {} (ttl {} ms, refreshed every {} ms)",
               impl_->options.public_url, impl_->registry->id(), impl_->options.ttl.count(),
               impl_->registry->refresh_interval().count());
}

bool ClusterTopology::withdraw(std::chrono::milliseconds timeout) {
  return impl_->registry->withdraw(timeout);
}

const std::string& ClusterTopology::id() const noexcept {
  return impl_->registry->id();
}

struct SessionForwarding::Impl {
  std::shared_ptr<SessionForwarder> forwarder;
};

SessionForwarding::SessionForwarding(Server& server, const RedisConnection& redis, ForwardingOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->forwarder = std::make_shared<SessionForwarder>(
      server, redis.hub_, SessionForwarder::Options{options.timeout, options.max_pending});
  ServerAccess::set_forwarding(server, impl_->forwarder->tag(), impl_->forwarder);
  impl_->forwarder->start();
  spdlog::info(
      "forwarding: this node's session ids carry the tag {}; requests for other nodes' sessions go to them",
      impl_->forwarder->tag());
  server.metrics().add_collector([fwd = impl_->forwarder](MetricsSink& sink) {
    const auto n = [](const std::atomic<std::uint64_t>& a) { return static_cast<double>(a.load()); };
    const auto& c = fwd->counters();
    const char* help = "Exchanges for sessions of other nodes (forwarded) and for ours (served), by outcome";
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "forwarded"}}, n(c.forwarded));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "served"}}, n(c.served));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "no_owner"}}, n(c.no_owner));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "timeout"}}, n(c.timeouts));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "refused"}}, n(c.refused));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "slow_client"}}, n(c.slow_clients));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "origin_lost"}}, n(c.origins_lost));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "passed_on"}}, n(c.passed_on));
    sink.counter("socketio_forward_exchanges_total", help, {{"result", "link_lost"}}, n(c.link_lost));
    sink.counter("socketio_forward_dropped_total", "Malformed forwarding messages from Redis", {},
                 n(c.dropped));
  });
}

SessionForwarding::~SessionForwarding() {
  impl_->forwarder->stop();
}

const std::string& SessionForwarding::tag() const noexcept {
  return impl_->forwarder->tag();
}

}  // namespace socketio::redis
