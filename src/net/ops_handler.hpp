// The operations endpoints: GET /metrics (the registry in the Prometheus text format), GET
// /healthz (the process is alive and its shards answer) and GET /readyz (should a balancer send
// traffic here: every readiness check passes; 503 with the failing ones otherwise, e.g. while
// draining or before the Redis subscriptions are confirmed). Served on the main port and/or on
// a listener of its own (--metrics-listen). Built once before listening, then read-only; shard
// threads call on_request concurrently. Beast-free.
#pragma once

#include "net/http_handler.hpp"
#include "net/shards.hpp"
#include "socketio/metrics.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace socketio::net {

class OpsHandler final : public HttpHandler {
 public:
  // A readiness check: true when fine; otherwise fills why (one line).
  using Check = std::function<bool(std::string& why)>;

  struct Endpoints {
    bool metrics = false;
    bool health = false;  // /healthz and /readyz
  };

  OpsHandler(ShardPool& pool, const Metrics& metrics, Endpoints endpoints);

  // Before listening; checks run on a shard thread for every /readyz.
  void add_readiness_check(std::string name, Check check);

  bool matches(const HttpRequest& request) const noexcept;
  void on_request(HttpRequest&& request, ResponderPtr responder) override;
  void on_upgrade(WebSocketPtr ws) override;

  // The answers, without the HTTP exchange (unit tests).
  HttpResponse metrics_response() const;
  HttpResponse ready_response() const;

 private:
  void healthz(const ResponderPtr& responder) const;

  ShardPool& pool_;
  const Metrics& metrics_;
  Endpoints endpoints_;
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace socketio::net
