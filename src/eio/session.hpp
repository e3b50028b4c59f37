// One Engine.IO session (what the reference calls a Socket): its transport (long-polling or
// WebSocket), the upgrade between them, the heartbeat and the outgoing packet buffer. Lives on
// the shard its id names; every method must be called on that shard's thread. The layer above
// (Socket.IO) attaches a SessionHandler and sends messages; it never sees HTTP or WebSocket.
#pragma once

#include "core/bytes.hpp"
#include "core/flow_sender.hpp"
#include "eio/heartbeat.hpp"
#include "eio/outbox.hpp"
#include "eio/parser/packet.hpp"
#include "net/address_limits.hpp"
#include "net/http_compression.hpp"
#include "net/http_handler.hpp"
#include "net/packed_request.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::eio {

class Server;
class WsLink;
struct SessionTimers;

// Implemented by the layer above. Called on the session's shard thread.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  virtual void on_message(std::string_view data, bool binary) = 0;
  // The session is closed; reason is the reference's ("transport close", "ping timeout", ...).
  virtual void on_close(std::string_view reason, std::string_view description) = 0;
};

enum class TransportKind : std::uint8_t { polling, websocket };

// Its heartbeat deadline is its place in the shard's HeartbeatQueue (the private base).
class Session final : public std::enable_shared_from_this<Session>,
                      public core::FlowSender,
                      private HeartbeatQueue::Entry {
 public:
  Session(Server& server, std::string id, std::size_t shard, int protocol, bool supports_binary,
          const net::HttpRequest& handshake);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& id() const noexcept { return id_; }
  std::size_t shard() const noexcept { return shard_; }
  int protocol() const noexcept { return protocol_; }
  TransportKind transport() const noexcept { return transport_; }
  std::string_view transport_name() const noexcept;
  // The handshake request (headers, query, remote address, secure flag; body dropped), packed.
  const net::PackedRequest& request() const noexcept { return *request_; }
  const std::shared_ptr<const net::PackedRequest>& shared_request() const noexcept { return request_; }
  std::chrono::system_clock::time_point issued() const noexcept { return issued_; }
  // The client as the server sees it through trusted proxies (Options::trust_proxy).
  const std::string& client_address() const noexcept { return client_address_; }
  bool client_secure() const noexcept { return client_secure_; }
  // The session's place in the per-address budget, given back when the session closes.
  void hold(std::unique_ptr<net::AddressLimits::Slot> slot) { limit_slot_ = std::move(slot); }
  bool is_open() const noexcept { return state_ == State::open; }

  void set_handler(std::shared_ptr<SessionHandler> handler) { handler_ = std::move(handler); }
  // JSONP polling (the handshake had `j`): answers wrapped as ___eio[index](...), POSTs form-encoded,
  // binary as base64. Before start().
  void use_jsonp(std::string index) {
    jsonp_ = std::move(index);
    supports_binary_ = false;
  }

  // Queue one message (Engine.IO type 4) and flush it if the transport can take it. compress:
  // the packet's compress flag (false: never compressed, as the reference's compress(false)).
  // Over an open WebSocket with nothing buffered (the usual case), straight to its queue.
  void send(const core::SharedBytes& data, bool binary, bool compress = true);
  // Several messages that must stay together (a Socket.IO packet and its attachments).
  void send_many(const core::SharedBytes* data, const bool* binary, std::size_t n, bool compress = true);
  // Bytes queued for this client (the buffer plus the WebSocket's own queue).
  std::size_t buffered_bytes() const noexcept;
  // Over the outbox high-water mark (eio/outbox.hpp): volatile packets are to be dropped.
  bool over_high_water() const noexcept { return outbox_.over_high_water(buffered_bytes()); }

  // Server-initiated close: what is queued goes out first. The handler sees "forced close".
  void close();

  // --- called by the Server / transports (same shard) ---
  void start(net::ResponderPtr handshake_get);  // polling open
  void start(net::WebSocketPtr ws);             // direct WebSocket open
  void on_polling_request(net::HttpRequest&& req, net::ResponderPtr res);
  void on_upgrade_request(net::WebSocketPtr ws);
  void on_ws_message(const WsLink* link, std::string_view data, bool binary);
  void on_ws_closed(const WsLink* link, std::string_view reason);
  void on_get_aborted(const net::Responder* res);
  void release_poll(const net::Responder* res);  // the node relaying it hands the client back
  void shutdown(std::string_view reason);        // immediate close, for server shutdown
  void on_ws_drained(const WsLink* link);        // the WebSocket's queue fell back under the mark
  // The shard's HeartbeatQueue calls it when this session's deadline has passed.
  static void on_heartbeat_due(HeartbeatQueue::Entry& entry);

  // --- publisher backpressure (eio/flow.hpp): this session as a sender its receivers hold ---
  std::size_t flow_shard() const noexcept override { return shard_; }
  std::weak_ptr<core::FlowSender> flow_ref() override { return weak_from_this(); }
  void flow_hold() override;
  void flow_release() override;
  const std::shared_ptr<core::FlowToken>& flow_token() override;
  void flow_pipeline_full() override;
  void flow_pipeline_drained() override;

 private:
  bool supersedes(const net::Responder& next) const;  // a held relayed GET gives way to `next`
  enum class State : std::uint8_t { open, closing, closed };
  enum class Upgrade : std::uint8_t { none, probing, upgraded };

  struct OutPacket {
    PacketType type;
    bool binary;
    core::SharedBytes data;
    bool compress = true;
  };

  void on_packet(Packet&& p);
  void on_close(std::string_view reason, std::string_view description = {});
  void push(PacketType type, bool binary, core::SharedBytes data, bool compress = true);
  void counted_open();       // a new session in the metrics
  void drop_buffer_bytes();  // buffer_bytes_ = 0, and the outbox gauge follows
  void flush();
  void flush_polling();
  void respond_get(net::ResponderPtr res, std::string body, bool binary_body,
                   net::ContentCoding coding = net::ContentCoding::identity);
  void send_ws(const net::WebSocketPtr& ws, std::vector<OutPacket>& packets);
  bool heartbeat_expired();
  void check_outbox();
  void release_senders();  // back under the high-water mark, or closed: senders held go on
  void answer_held_post();
  void pipeline_check();
  void arm_slow_timer();
  void drop_slow_client();
  void schedule_ping();
  void reset_pong_deadline();
  void await_pong();  // the ping just went out: the deadline counts from when it was due
  void arm_heartbeat(std::size_t phase, std::chrono::steady_clock::time_point deadline);
  void cancel_upgrade(std::string_view why);
  net::WsFrame to_frame(PacketType type, bool binary, core::SharedBytes data, bool compress) const;

  Server& server_;
  std::string id_;
  std::size_t shard_;
  int protocol_;
  bool supports_binary_;
  std::shared_ptr<const net::PackedRequest> request_;  // shared with the sockets' handshakes
  std::string client_address_;
  bool client_secure_ = false;
  std::unique_ptr<net::AddressLimits::Slot> limit_slot_;
  std::chrono::system_clock::time_point issued_;
  State state_ = State::open;
  TransportKind transport_ = TransportKind::polling;
  Upgrade upgrade_ = Upgrade::none;

  std::optional<std::string> jsonp_;  // the JSONP callback index
  net::ResponderPtr pending_get_;
  net::ContentCoding pending_coding_ = net::ContentCoding::identity;  // what pending_get_ accepts
  // The request of pending_get_ when there is a headers hook (for it), released with its answer.
  std::unique_ptr<net::HttpRequest> pending_get_request_;
  bool handshake_answered_ = false;  // the first polling response (the handshake's) went out
  std::shared_ptr<WsLink> ws_link_;
  net::WebSocketPtr ws_;
  std::shared_ptr<WsLink> probe_link_;
  net::WebSocketPtr probe_;
  bool probe_answered_ = false;

  std::vector<OutPacket> buffer_;  // not a deque: an empty libstdc++ deque holds ~600 bytes
  std::size_t buffer_bytes_ = 0;
  OutboxPolicy outbox_;
  bool slow_timer_armed_ = false;
  // This session as a sender (eio/flow.hpp): made when first held or when it first posts to
  // another shard; nothing for a session that never does.
  struct Flow;
  std::unique_ptr<Flow> flow_;
  Flow& flow();
  bool held() const noexcept;

  // The upgrade and slow-client timers, made on first use (rare; the heartbeat is the base's).
  std::unique_ptr<SessionTimers> timers_;
  SessionTimers& timers();
  std::chrono::steady_clock::time_point pong_deadline_ = std::chrono::steady_clock::time_point::max();
  // When the next v4 ping is due (max: none scheduled). The pong deadline counts from here, not
  // from when a busy shard got round to the timer, so a request arriving after
  // due + pingTimeout finds the session closed whatever the timer's lateness (as the reference's
  // timeline would).
  std::chrono::steady_clock::time_point ping_due_ = std::chrono::steady_clock::time_point::max();
  bool deadline_extended_ = false;
  std::shared_ptr<SessionHandler> handler_;
};

}  // namespace socketio::eio
