// Routes requests and upgrades to the first handler whose matcher accepts them; 404 otherwise.
// Built once at start-up, then read-only (any shard thread calls it concurrently).
#pragma once

#include "net/http_handler.hpp"

#include <functional>
#include <utility>
#include <vector>

namespace socketio::net {

class Router final : public HttpHandler {
 public:
  using Matcher = std::function<bool(const HttpRequest&)>;

  void add(Matcher matcher, HttpHandler& handler) { routes_.push_back({std::move(matcher), &handler}); }

  void on_request(HttpRequest&& request, ResponderPtr responder) override {
    for (auto& r : routes_)
      if (r.match(request)) return r.handler->on_request(std::move(request), std::move(responder));
    responder->respond(not_found());
  }

  void on_upgrade(WebSocketPtr ws) override {
    for (auto& r : routes_)
      if (r.match(ws->request())) return r.handler->on_upgrade(std::move(ws));
    auto res = not_found();
    res.close = true;
    ws->reject(std::move(res));
  }

  static HttpResponse not_found() {
    HttpResponse res;
    res.status = 404;
    res.set("Content-Type", "text/plain; charset=UTF-8");
    res.body = "Not Found\n";
    return res;
  }

 private:
  struct Route {
    Matcher match;
    HttpHandler* handler;
  };
  std::vector<Route> routes_;
};

}  // namespace socketio::net
