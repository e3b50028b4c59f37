#include "page_config.hpp"

#include "net/http_handler.hpp"
#include "sio/server_access.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <memory>

namespace socketio::app {

namespace {

class PageConfig final : public net::HttpHandler {
 public:
  explicit PageConfig(const std::string& pick_path) {
    boost::json::object o;
    if (pick_path.empty())
      o["pick"] = nullptr;
    else
      o["pick"] = pick_path;
    body_ = boost::json::serialize(o);
  }

  void on_request(net::HttpRequest&& req, net::ResponderPtr responder) override {
    net::HttpResponse res;
    if (req.method != net::Method::get && req.method != net::Method::head) {
      res.status = 405;
      res.set("Allow", "GET, HEAD");
    } else {
      res.set("Content-Type", "application/json");
      res.set("Cache-Control", "no-store");  // it changes with the node's flags
      if (req.method == net::Method::get) res.body = body_;
    }
    responder->respond(std::move(res));
  }

  void on_upgrade(net::WebSocketPtr ws) override {
    net::HttpResponse res;
    res.status = 400;
    res.close = true;
    ws->reject(std::move(res));
  }

 private:
  std::string body_;
};

}  // namespace

void serve_page_config(Server& server, const std::string& pick_path) {
  // The router keeps the handler alive through the matcher, for as long as the server.
  auto handler = std::make_shared<PageConfig>(pick_path);
  ServerAccess::add_route(
      server, [handler](const net::HttpRequest& r) { return r.path() == kPageConfigPath; }, *handler);
}

}  // namespace socketio::app
