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

// Its heartbeat deadline is its place in the shard's HeartbeatQueue (the private base). A session
// opened over a WebSocket is that WebSocket's handler itself (the private WebSocketHandler base);
// one that began with polling has a WsLink per WebSocket (the probe, then the upgraded one).
class Session final : public std::enable_shared_from_this<Session>,
                      public core::FlowSender,
                      private net::WebSocketHandler,
                      private HeartbeatQueue::Entry {
 public:
  Session(Server& server, std::string id, std::size_t shard, int protocol, bool supports_binary,
          const net::HttpRequest& handshake);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The id, kept in the session itself (20 characters: no block of its own); id() is a copy.
  std::string_view id_view() const noexcept { return {id_, id_size_}; }
  std::string id() const { return std::string(id_view()); }
  std::size_t shard() const noexcept { return shard_; }
  int protocol() const noexcept { return protocol_; }
  TransportKind transport() const noexcept { return transport_; }
  std::string_view transport_name() const noexcept;
  // The handshake request (headers, query, remote address, secure flag; body dropped), packed.
  const net::PackedRequest& request() const noexcept { return *request_; }
  const std::shared_ptr<const net::PackedRequest>& shared_request() const noexcept { return request_; }
  std::chrono::system_clock::time_point issued() const noexcept { return issued_; }
  // The client as the server sees it through trusted proxies (Options::trust_proxy), read from
  // the handshake request when asked (a socket's handshake: once per namespace joined).
  std::string client_address() const;
  bool client_secure() const noexcept;
  // The session's place in the per-address budget, given back when the session closes.
  void hold(std::unique_ptr<net::AddressLimits::Slot> slot) { limit_slot_ = std::move(slot); }
  bool is_open() const noexcept { return state_ == State::open; }

  void set_handler(std::shared_ptr<SessionHandler> handler) { handler_ = std::move(handler); }
  // JSONP polling (the handshake had `j`): answers wrapped as ___eio[index](...), POSTs form-encoded,
  // binary as base64. Before start().
  void use_jsonp(std::string index);

  // Queue one message (Engine.IO type 4) and flush it if the transport can take it. compress:
  // the packet's compress flag (false: never compressed, as the reference's compress(false)).
  // Over an open WebSocket with nothing buffered (the usual case), straight to its queue.
  void send(const core::SharedBytes& data, bool binary, bool compress = true);
  // Several messages that must stay together (a Socket.IO packet and its attachments).
  void send_many(const core::SharedBytes* data, const bool* binary, std::size_t n, bool compress = true);
  // Bytes queued for this client (the buffer plus the WebSocket's own queue).
  std::size_t buffered_bytes() const noexcept;
  // Over the outbox high-water mark (eio/outbox.hpp): volatile packets are to be dropped.
  bool over_high_water() const noexcept;

  // Server-initiated close: what is queued goes out first. The handler sees "forced close".
  void close();

  // --- called by the Server / transports (same shard) ---
  void start(net::ResponderPtr handshake_get);  // polling open
  void start(net::WebSocketPtr ws);             // direct WebSocket open
  void on_polling_request(net::HttpRequest&& req, net::ResponderPtr res);
  void on_upgrade_request(net::WebSocketPtr ws);
  // From the WebSocket whose handler is `link` (a WsLink, or this session's WebSocketHandler).
  void on_ws_message(const net::WebSocketHandler* link, std::string_view data, bool binary);
  void on_ws_closed(const net::WebSocketHandler* link, std::string_view reason);
  void on_get_aborted(const net::Responder* res);
  void release_poll(const net::Responder* res);           // the node relaying it hands the client back
  void shutdown(std::string_view reason);                 // immediate close, for server shutdown
  void on_ws_drained(const net::WebSocketHandler* link);  // its queue fell back under the mark
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
  // net::WebSocketHandler, for a session opened over a WebSocket: the callbacks of its WebSocket,
  // brought to the session's shard (the WebSocket's own here, but a WsLink's rule is kept).
  void on_ws_message(std::string_view data, bool binary) override;
  void on_ws_closed(std::string_view reason) override;
  void on_ws_drained() override;
  const net::WebSocketHandler* as_ws_handler() const noexcept { return this; }
  // The handler of ws_ (the WebSocket carrying the session), nullptr when none.
  const net::WebSocketHandler* ws_link() const noexcept;
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
  // The heartbeat's state is its entry's (the phase and deadline last armed, kept after they
  // pass). When the next v4 ping is due (max: none scheduled). The pong deadline counts from
  // here, not from when a busy shard got round to the timer, so a request arriving after
  // due + pingTimeout finds the session closed whatever the timer's lateness (as the reference's
  // timeline would).
  std::chrono::steady_clock::time_point ping_due() const noexcept;
  std::chrono::steady_clock::time_point pong_deadline() const noexcept;  // max: no pong awaited
  void cancel_upgrade(std::string_view why);
  const OutboxLimits& outbox_limits() const noexcept;
  OutboxPolicy& outbox();  // made with the timers
  net::WsFrame to_frame(PacketType type, bool binary, core::SharedBytes data, bool compress) const;

  Server& server_;
  static constexpr std::size_t kIdCapacity = 20;  // core::make_session_id's ids
  char id_[kIdCapacity];
  std::shared_ptr<const net::PackedRequest> request_;  // shared with the sockets' handshakes
  std::unique_ptr<net::AddressLimits::Slot> limit_slot_;
  std::chrono::system_clock::time_point issued_;
  std::uint32_t shard_;
  std::uint8_t protocol_;
  std::uint8_t id_size_;
  bool supports_binary_;
  State state_ = State::open;
  TransportKind transport_ = TransportKind::polling;
  Upgrade upgrade_ = Upgrade::none;
  bool slow_timer_armed_ = false;
  bool deadline_extended_ = false;

  // What a session that began with long-polling needs (the held GET, JSONP, the upgrade's probe
  // and the WebSocket it upgraded to): made by start(ResponderPtr) or use_jsonp(); nothing for a
  // session opened over a WebSocket.
  struct Polling;
  std::unique_ptr<Polling> polling_;
  Polling& polling();  // made on first use
  bool has_pending_get() const noexcept;
  bool probing(const net::WebSocketHandler* link) const noexcept;  // link is the upgrade's probe
  net::WebSocketPtr ws_;

  std::vector<OutPacket> buffer_;  // not a deque: an empty libstdc++ deque holds ~600 bytes
  std::size_t buffer_bytes_ = 0;
  // This session as a sender (eio/flow.hpp): made when first held or when it first posts to
  // another shard; nothing for a session that never does.
  struct Flow;
  std::unique_ptr<Flow> flow_;
  Flow& flow();
  bool held() const noexcept;

  // The upgrade and slow-client timers and the outbox policy's state (eio/outbox.hpp), made on
  // first use: the first upgrade, or the first time the client goes over the high-water mark
  // (rare; the heartbeat is the base's).
  std::unique_ptr<SessionTimers> timers_;
  SessionTimers& timers();
  std::shared_ptr<SessionHandler> handler_;
};

}  // namespace socketio::eio
