#include "net/ops_handler.hpp"

#include <atomic>

namespace socketio::net {

namespace {

HttpResponse text(unsigned status, std::string body) {
  HttpResponse res;
  res.status = status;
  res.set("Content-Type", "text/plain; charset=utf-8");
  res.set("Cache-Control", "no-store");
  res.body = std::move(body);
  return res;
}

}  // namespace

OpsHandler::OpsHandler(ShardPool& pool, const Metrics& metrics, Endpoints endpoints)
    : pool_(pool), metrics_(metrics), endpoints_(endpoints) {}

void OpsHandler::add_readiness_check(std::string name, Check check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

bool OpsHandler::matches(const HttpRequest& request) const noexcept {
  const auto path = request.path();
  if (endpoints_.metrics && path == "/metrics") return true;
  return endpoints_.health && (path == "/healthz" || path == "/readyz");
}

HttpResponse OpsHandler::metrics_response() const {
  HttpResponse res = text(200, metrics_.scrape());
  res.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return res;
}

HttpResponse OpsHandler::ready_response() const {
  std::string failed;
  for (const auto& [name, check] : checks_) {
    std::string why;
    if (!check(why)) failed += name + ": " + why + "\n";
  }
  return failed.empty() ? text(200, "ready\n") : text(503, "not ready\n" + failed);
}

void OpsHandler::on_request(HttpRequest&& request, ResponderPtr responder) {
  if (request.method != Method::get && request.method != Method::head) {
    HttpResponse res = text(405, "Method Not Allowed\n");
    res.set("Allow", "GET, HEAD");
    return responder->respond(std::move(res));
  }
  const bool head = request.method == Method::head;
  const auto path = request.path();
  HttpResponse res;
  if (path == "/metrics") {
    res = metrics_response();
  } else if (path == "/readyz") {
    res = ready_response();
  } else {
    return healthz(responder);
  }
  if (head) res.body.clear();
  responder->respond(std::move(res));
}

// Alive means every shard still runs its event loop: a shard stuck in a handler would leave
// its connections dead while the process looks fine. Each shard is asked to answer; the last
// answer responds. A stuck shard never answers and the probe times out, which is the point.
void OpsHandler::healthz(const ResponderPtr& responder) const {
  auto left = std::make_shared<std::atomic<std::size_t>>(pool_.size());
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    pool_.post(i, [left, responder] {
      if (left->fetch_sub(1) == 1) responder->respond(text(200, "ok\n"));
    });
  }
}

void OpsHandler::on_upgrade(WebSocketPtr ws) {
  HttpResponse res = text(400, "Bad Request\n");
  res.close = true;
  ws->reject(std::move(res));
}

}  // namespace socketio::net
