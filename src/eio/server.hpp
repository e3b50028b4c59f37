// The Engine.IO server: an HttpHandler for everything under Options::path. Verifies requests
// like the reference (error codes 0-5), performs handshakes, and routes every later request of
// a session to the shard that owns it (the shard is encoded in the session id), so no lock is
// taken on the request path. Sessions are registered per shard and touched only by that
// shard's thread. Construct and configure before the pool runs; on_request/on_upgrade are
// called by src/net on shard threads.
#pragma once

#include "core/trip_log.hpp"
#include "eio/counters.hpp"
#include "eio/options.hpp"
#include "eio/session.hpp"
#include "net/http_handler.hpp"
#include "net/shards.hpp"

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace socketio::eio {

std::string_view error_message(ErrorCode code) noexcept;

class Server final : public net::HttpHandler {
 public:
  // Called on the new session's shard right after the handshake; attach a SessionHandler.
  using ConnectionHandler = std::function<void(const std::shared_ptr<Session>&)>;

  Server(net::ShardPool& pool, Options options);
  ~Server() override;

  void on_connection(ConnectionHandler handler) { on_connection_ = std::move(handler); }
  const Options& options() const noexcept { return options_; }
  net::ShardPool& pool() noexcept { return pool_; }

  // True when the request is for this server (its path).
  bool matches(const net::HttpRequest& req) const noexcept;
  // True for any path under this server's path ("/socket.io/anything"): the reference's engine.io
  // claims all of them (answering 400 "Transport unknown" and the like), except the client bundle
  // files socket.io serves first. Route it after the bundle.
  bool matches_under(const net::HttpRequest& req) const noexcept;

  void on_request(net::HttpRequest&& request, net::ResponderPtr responder) override;
  void on_upgrade(net::WebSocketPtr ws) override;

  // Open sessions across all shards (approximate while shards run).
  std::size_t session_count() const noexcept { return session_count_.load(std::memory_order_relaxed); }
  // Graceful stop, first step: new handshakes are refused (403, code 4, "Server is shutting
  // down") while the requests of open sessions are still served. Any thread.
  void refuse_handshakes() noexcept { refusing_handshakes_.store(true, std::memory_order_relaxed); }
  // Closes every session (on each shard's thread) with the given reason.
  void close_all(std::string_view reason);

  // --- for Session (on its shard) ---
  void remove(const Session& session);
  // The shard's heartbeat deadlines (eio/heartbeat.hpp): one timer for all its sessions.
  HeartbeatQueue& heartbeat(std::size_t shard) noexcept { return *heartbeats_[shard]; }
  const Counters& counters() const noexcept { return counters_; }
  // The throttle of the log line for a polling body over max_http_buffer_size (413), per shard:
  // the calling shard's thread only.
  core::TripLog& body_limit_log(std::size_t shard) noexcept { return body_logs_[shard]; }
  // CORS headers for a response to req (nothing when CORS is off or the origin is not allowed).
  void add_cors_headers(const net::HttpRequest& req, net::HttpResponse& res) const {
    add_cors_headers(req.header("Origin"), res);
  }
  void add_cors_headers(std::optional<std::string_view> origin, net::HttpResponse& res) const;
  // The answer to a CORS preflight (OPTIONS) for req; nullopt when CORS is off.
  std::optional<net::HttpResponse> preflight_response(const net::HttpRequest& req) const;
  // The reference's error answer ({"code":N,"message":...}); reports connection_error with context.
  net::HttpResponse error_response(const net::HttpRequest& req, ErrorCode code, std::string_view message = {},
                                   const boost::json::object& context = {}) const;
  // Headers of the cookie (cookie_sid non-empty: a polling handshake) and the headers hook for a
  // response to req; invalid names/values dropped. Empty at no cost when neither is configured.
  Options::ExtraHeaders extra_headers(const net::HttpRequest& req, bool initial,
                                      std::string_view cookie_sid) const;
  void add_extra_headers(net::HttpResponse& res, const net::HttpRequest& req, bool initial,
                         std::string_view cookie_sid) const;
  // A cookie or a headers hook is configured (add_extra_headers may add something).
  bool has_extra_headers() const noexcept { return options_.cookie || options_.headers; }

 private:
  struct Query;
  void handle(net::HttpRequest&& req, net::ResponderPtr res, net::WebSocketPtr ws);
  void handshake(net::HttpRequest&& req, const Query& q, net::ResponderPtr res, net::WebSocketPtr ws);
  void fail(const net::HttpRequest& req, const net::ResponderPtr& res, const net::WebSocketPtr& ws,
            ErrorCode code, boost::json::object context = {}, std::string_view message = {});
  std::shared_ptr<Session> find(std::size_t shard, std::string_view sid);

  net::ShardPool& pool_;
  Options options_;
  ConnectionHandler on_connection_;
  // heartbeats_[shard]: touched only by that shard's thread. Before sessions_: destroyed after it.
  std::vector<std::unique_ptr<HeartbeatQueue>> heartbeats_;
  // sessions_[shard]: touched only by that shard's thread. Keyed by a view of the session's own id
  // (it lives as long as the entry: the entry holds the session).
  std::vector<std::unordered_map<std::string_view, std::shared_ptr<Session>>> sessions_;
  std::atomic<std::size_t> session_count_{0};
  std::atomic<bool> refusing_handshakes_{false};
  Counters counters_;
  // trip_logs_[shard]: touched only by that shard's thread.
  std::vector<std::array<core::TripLog, net::kRefusalKinds>> trip_logs_;
  std::vector<core::TripLog> body_logs_;  // [shard]: touched only by that shard's thread
};

}  // namespace socketio::eio
