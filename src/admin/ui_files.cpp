#include "admin/ui_files.hpp"

#include "net/router.hpp"
#include "net/static_files.hpp"
#include "sio/server_access.hpp"

#include <map>
#include <memory>
#include <stdexcept>

namespace socketio::net::embedded {
EmbeddedTable admin_ui() noexcept;  // generated (src/admin/CMakeLists.txt)
}

namespace socketio::admin {

namespace {

class UiFiles final : public net::HttpHandler {
 public:
  explicit UiFiles(std::string prefix) : prefix_(std::move(prefix)) {
    if (prefix_.empty() || prefix_.front() != '/') prefix_.insert(0, "/");
    if (prefix_.back() != '/') prefix_ += '/';
    for (const auto& f : net::embedded::admin_ui().files) files_.emplace(f.name, &f);
    if (files_.find("index.html") == files_.end())
      throw std::runtime_error("admin UI: this build has no UI files (npm ci --prefix web, then rebuild)");
  }

  bool matches(const net::HttpRequest& r) const {
    const auto path = r.path();
    return path.starts_with(prefix_) || path == std::string_view(prefix_).substr(0, prefix_.size() - 1);
  }

  void on_request(net::HttpRequest&& r, net::ResponderPtr responder) override {
    responder->respond(handle(r));
  }

  void on_upgrade(net::WebSocketPtr ws) override {
    net::HttpResponse res;
    res.status = 404;
    res.close = true;
    ws->reject(std::move(res));
  }

 private:
  net::HttpResponse handle(const net::HttpRequest& r) const {
    net::HttpResponse res;
    if (r.method != net::Method::get && r.method != net::Method::head) {
      res.status = 405;
      res.set("Allow", "GET, HEAD");
      return res;
    }
    const auto path = r.path();
    if (!path.starts_with(prefix_)) {
      res.status = 301;
      res.set("Location", prefix_);
      return res;
    }
    std::string name(path.substr(prefix_.size()));
    if (name.empty()) name = "index.html";
    const auto it = files_.find(name);
    if (it == files_.end()) return net::Router::not_found();
    const net::EmbeddedFile& f = *it->second;
    const std::string etag = std::string("\"") + f.hash + "\"";
    res.set("ETag", etag);
    // index.html names the hashed assets: it must be revalidated; the assets never change.
    res.set("Cache-Control", name == "index.html" ? "no-cache" : "public, max-age=31536000, immutable");
    if (const auto inm = r.header("If-None-Match"); inm && net::etag_matches(*inm, etag)) {
      res.status = 304;
      return res;
    }
    res.set("Content-Type", f.content_type);
    const auto enc =
        net::choose_encoding(r.header("Accept-Encoding").value_or(""), f.gzip.size > 0, f.br.size > 0);
    const net::EmbeddedBlob& blob = enc == net::Encoding::br     ? f.br
                                    : enc == net::Encoding::gzip ? f.gzip
                                                                 : f.data;
    if (enc != net::Encoding::identity) res.set("Content-Encoding", enc == net::Encoding::br ? "br" : "gzip");
    res.set("Vary", "Accept-Encoding");
    if (r.method == net::Method::get)
      res.shared_body.bytes = {reinterpret_cast<const char*>(blob.data), blob.size};  // built in: no copy
    else
      res.set("Content-Length", std::to_string(blob.size));
    return res;
  }

  std::string prefix_;
  std::map<std::string, const net::EmbeddedFile*, std::less<>> files_;
};

}  // namespace

void serve_ui_files(Server& server, const std::string& prefix) {
  // The handler lives as long as the process (the router keeps a reference); one per server.
  auto* handler = new UiFiles(prefix);
  ServerAccess::add_route(
      server, [handler](const net::HttpRequest& r) { return handler->matches(r); }, *handler);
}

}  // namespace socketio::admin
