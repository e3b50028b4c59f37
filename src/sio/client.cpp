#include "core/id.hpp"
#include "sio/internal.hpp"
#include "sio/parser/msgpack_packet.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>
#include <boost/url/parse_query.hpp>

#include <ctime>

namespace socketio::sio {

Client::Client(ServerCore& core, const std::shared_ptr<eio::Session>& session)
    : core_(core),
      session_(session),
      session_raw_(session.get()),
      shard_(static_cast<std::uint32_t>(session->shard())),
      format_(core.format_for(*session)) {
  core_.clients_by_format[index_of(format_)].fetch_add(1, std::memory_order_relaxed);
}

Client::~Client() {
  core_.clients_by_format[index_of(format_)].fetch_sub(1, std::memory_order_relaxed);
}

void Client::start() {
  connect_timer_ = std::make_unique<boost::asio::steady_timer>(core_.pool->context(shard_));
  connect_timer_->expires_after(core_.options.connect_timeout);
  connect_timer_->async_wait([w = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    auto self = w.lock();
    if (self && self->sockets_.empty() && !self->closed_) {
      spdlog::debug("sio: no namespace joined within connectTimeout, closing");
      self->close("connect timeout");
    }
  });
  // Protocol v4 (Engine.IO v3 clients): the server connects the client to "/" on its own; the
  // client never sends CONNECT for it.
  if (format_ == WireFormat::json_v4) on_connect("/", boost::json::object{});
}

std::string_view Client::transport() const noexcept {
  auto s = session_.lock();
  return s ? s->transport_name() : std::string_view("polling");
}

void Client::on_message(std::string_view data, bool binary) {
  std::error_code ec;
  Packet packet;
  std::vector<Bytes> attachments;
  if (!decode(data, binary, ec, packet, attachments)) {
    if (!ec) return;  // a packet awaiting its attachments
    spdlog::debug("sio: invalid {} packet ({}), closing the connection", wire_format_name(format_),
                  ec.message());
    // The reference closes the Engine.IO connection here: its sockets see "forced close".
    close("forced close");
    return;
  }
  on_packet(std::move(packet), std::move(attachments));
}

bool Client::decode(std::string_view data, bool binary, std::error_code& ec, Packet& packet,
                    std::vector<Bytes>& attachments) {
  switch (format_) {
    case WireFormat::msgpack_v5:
      if (!binary) {
        ec = ParseError::unexpected_text;  // socket.io-msgpack-parser only reads binary messages
        return false;
      }
      ec = decode_msgpack_packet(data, packet, attachments, core_.limits);
      return !ec;
    case WireFormat::json_v5:
    case WireFormat::json_v4:
    case WireFormat::count:
      break;
  }
  std::optional<Decoder> local;
  Decoder& d = decoder_ ? *decoder_ : local.emplace(core_.limits);
  const auto result = binary ? d.feed_binary(data) : d.feed_text(data);
  if (result.status == Decoder::Status::need_more) {
    if (!decoder_) decoder_ = std::make_unique<Decoder>(std::move(*local));
    return false;
  }
  if (result.status != Decoder::Status::packet) {
    decoder_.reset();
    ec = result.error;
    return false;
  }
  packet = std::move(d.packet());
  attachments.reserve(d.attachments().size());
  for (auto& a : d.attachments()) attachments.push_back(std::make_shared<const std::string>(std::move(a)));
  decoder_.reset();  // d is gone from here on
  if (format_ == WireFormat::json_v4) split_v4_namespace(packet);
  return true;
}

// Protocol v4 (socket.io-client 2.x) puts the namespace's query on its name ("/chat?token=1");
// like the reference's _parseNamespace, the name is the path and, for CONNECT, the query is the
// auth object (string values).
void Client::split_v4_namespace(Packet& p) {
  const auto q = p.nsp.find('?');
  if (p.type == PacketType::connect) {
    boost::json::object auth;
    if (q != std::string::npos) {
      if (auto parsed = boost::urls::parse_query(std::string_view(p.nsp).substr(q + 1))) {
        for (auto kv : *parsed) {
          const auto key = kv.key.decode();
          if (!auth.contains(key)) auth[key] = kv.has_value ? kv.value.decode() : std::string();
        }
      }
    }
    p.data = std::move(auth);
  }
  if (q != std::string::npos) p.nsp.resize(q);
  if (p.nsp.empty()) p.nsp = "/";
}

void Client::on_packet(Packet&& packet, std::vector<Bytes>&& attachments) {
  // The reference's rules: CONNECT only for a namespace not joined yet; anything else only for
  // a joined one (and never CONNECT/CONNECT_ERROR); every other combination closes the client.
  const auto* joined = find_socket(packet.nsp);
  if (!joined) {
    if (packet.type == PacketType::connect && !is_connecting(packet.nsp)) {
      on_connect(packet.nsp, std::move(packet.data));
      return;
    }
    spdlog::debug("sio: packet type {} for namespace {} in an invalid state, closing",
                  static_cast<int>(packet.type), packet.nsp);
    close("forced close");  // the reference closes the Engine.IO connection first: "forced close" wins
    return;
  }
  auto socket = *joined;
  switch (packet.type) {
    case PacketType::disconnect:
      socket->on_close("client namespace disconnect");
      break;
    case PacketType::event:
    case PacketType::binary_event:
      socket->on_event(std::move(packet), std::move(attachments));
      break;
    case PacketType::ack:
    case PacketType::binary_ack:
      socket->on_ack(std::move(packet), std::move(attachments));
      break;
    default:
      spdlog::debug("sio: unexpected packet type {} for a joined namespace, closing",
                    static_cast<int>(packet.type));
      close("forced close");
      break;
  }
}

HandshakeSource Client::handshake_source(boost::json::object auth) const {
  return {session_raw_->shared_request(), std::move(auth), &core_.proxy_trust, session_raw_->issued()};
}

Handshake make_handshake(const HandshakeSource& source) {
  Handshake h;
  const auto& req = *source.request;
  req.for_each_header([&h](std::string_view header, std::string_view value) {
    std::string name(header);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h.headers.emplace(std::move(name), std::string(value));
  });
  // A string of its own: Boost.URL 1.81's parse_query reads the last value up to a terminating
  // NUL, past the end of a view that has none (the packed request's bytes go on after it).
  const std::string query(req.query());
  if (auto q = boost::urls::parse_query(query)) {
    for (auto p : *q) h.query.emplace(p.key.decode(), p.has_value ? p.value.decode() : std::string());
  }
  h.auth = source.auth;
  h.address = net::client_address(req.remote_address(), req.header("X-Forwarded-For"), *source.trust);
  h.secure =
      net::client_secure(req.secure(), req.remote_address(), req.header("X-Forwarded-Proto"), *source.trust);
  const auto issued = source.issued;
  h.issued = std::chrono::duration_cast<std::chrono::milliseconds>(issued.time_since_epoch()).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(issued);
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm);
  h.time = buf;
  h.url = std::string(req.target());
  h.xdomain = req.header("Origin").has_value();
  return h;
}

void Client::on_connect(const std::string& nsp_name, boost::json::value&& auth) {
  if (nsp_name.size() > core_.options.max_namespace_name_length) {
    // Before any predicate or regex of a dynamic namespace sees the client's choice of name.
    core_.counters.namespace_too_long.inc();
    if (const auto n = core_.limit_logs_here().names.due()) {
      spdlog::warn(
          "limits: CONNECT to a namespace name of {} bytes refused (--max-namespace-name-length {}), {} "
          "time(s)",
          nsp_name.size(), core_.options.max_namespace_name_length, *n);
    }
    return refuse_connect(nsp_name, "Namespace name too long");
  }
  boost::json::object auth_obj = auth.is_object() ? std::move(auth.as_object()) : boost::json::object{};
  ServerCore::ConnectRefusal why{};
  auto nsp = core_.find_for_connect(nsp_name, auth_obj, why);
  if (!nsp) {
    if (why == ServerCore::ConnectRefusal::too_many) {
      core_.counters.namespaces_refused.inc();
      if (const auto n = core_.limit_logs_here().names.due()) {
        spdlog::warn(
            "limits: {} dynamic namespaces exist (--max-dynamic-namespaces): CONNECT refused, {} time(s)",
            core_.options.max_dynamic_namespaces, *n);
      }
      return refuse_connect(nsp_name, "Too many namespaces");
    }
    return refuse_connect(nsp_name, "Invalid namespace");
  }
  // Connection state recovery: a pid and an offset (strings) in the CONNECT ask for the session
  // back (namespace.ts _createSocket). The adapter answers, at once (this node's store) or once
  // Redis did (streams): the CONNECT goes on on this shard, unless the client left meanwhile.
  const auto* pid = auth_obj.if_contains("pid");
  const auto* offset = auth_obj.if_contains("offset");
  if (core_.options.connection_state_recovery.enabled && pid && pid->is_string() && offset &&
      offset->is_string()) {
    if (!is_connecting(nsp_name)) connecting_.push_back(nsp_name);
    const std::string p(pid->get_string()), o(offset->get_string());
    nsp->adapter().restore_session(
        p, o,
        [w = weak_from_this(), nsp, nsp_name, auth = std::move(auth_obj), pool = core_.pool,
         shard = shard_](std::optional<RestoredSession> restored) mutable {
          pool->dispatch(
              shard, [w, nsp, nsp_name, auth = std::move(auth), restored = std::move(restored)]() mutable {
                auto self = w.lock();
                if (!self || self->closed_) return nsp->connect_done();
                self->connecting_done(nsp_name);
                self->create_socket(nsp, nsp_name, std::move(auth), std::move(restored));
              });
        });
    return;
  }
  create_socket(nsp, nsp_name, std::move(auth_obj), std::nullopt);
}

void Client::create_socket(const std::shared_ptr<NamespaceImpl>& nsp, const std::string& nsp_name,
                           boost::json::object auth_obj, std::optional<RestoredSession> restored) {
  // Protocol v4 clients know their socket id without being told: the Engine.IO id ("/") or
  // "<nsp>#<Engine.IO id>", as the reference names them. v5 ids are random (the Engine.IO id is
  // a secret).
  std::string id = restored                         ? restored->session.sid
                   : format_ != WireFormat::json_v4 ? core::make_random_id()
                   : nsp_name == "/"                ? session_raw_->id()
                                                    : nsp_name + "#" + session_raw_->id();
  auto socket = std::make_shared<SocketImpl>(nsp, weak_from_this(), shard_, format_, std::move(id),
                                             handshake_source(std::move(auth_obj)));
  if (!is_connecting(nsp_name)) connecting_.push_back(nsp_name);
  if (restored) {
    // As the reference's Socket constructor: the missed packets go out before the middlewares
    // and the CONNECT answer (the client buffers them until it is connected), in their order.
    for (const auto& p : restored->missed)
      write(encode_event(format_, nsp_name, p->data, p->attachments, std::nullopt), false);
    socket->restore(std::move(restored->session));
    if (core_.options.connection_state_recovery.skip_middlewares) return finish_connect(socket);
  } else if (core_.options.connection_state_recovery.enabled) {
    socket->set_pid(core::make_random_id());
  }
  run_middleware(socket, 0);
}

void Client::refuse_connect(const std::string& nsp_name, std::string_view message) {
  const boost::json::value err = {{"message", message}};
  write(encode_simple(format_, PacketType::connect_error, nsp_name, &err), false);
}

void Client::run_middleware(const std::shared_ptr<SocketImpl>& socket, std::size_t index) {
  auto& mws = static_cast<NamespaceImpl&>(socket->nsp()).handlers()->middleware;
  if (index >= mws.size()) {
    finish_connect(socket);
    return;
  }
  auto next = [w = weak_from_this(), socket, index, pool = core_.pool,
               shard = shard_](std::optional<ConnectError> err) {
    pool->dispatch(shard, [w, socket, index, err = std::move(err)] {
      auto self = w.lock();
      if (!self || self->closed_) return;
      if (err) {
        self->connecting_done(socket->nsp().name());
        boost::json::value v;
        if (self->format_ == WireFormat::json_v4) {
          // Protocol v4: err.data || err.message, as is ('44"Not authorized"').
          v = err->data.is_null() ? boost::json::value(err->message) : err->data;
        } else {
          boost::json::object o{{"message", err->message}};
          if (!err->data.is_null()) o["data"] = err->data;
          v = std::move(o);
        }
        self->write(encode_simple(self->format_, PacketType::connect_error, socket->nsp().name(), &v), false);
        return;
      }
      self->run_middleware(socket, index + 1);
    });
  };
  mws[index](socket, std::move(next));
}

void Client::finish_connect(const std::shared_ptr<SocketImpl>& socket) {
  const std::string_view name = socket->nsp().name();
  connecting_done(name);
  if (closed_) return;
  connect_timer_.reset();  // cancels the wait; a connected client has no connect timeout any more
  auto it =
      std::find_if(sockets_.begin(), sockets_.end(), [&](const auto& s) { return s->nsp().name() == name; });
  if (it != sockets_.end())
    *it = socket;
  else
    sockets_.push_back(socket);
  socket->on_connected();
  // With recovery, the private session id the client presents when it reconnects.
  boost::json::object reply{{"sid", socket->id()}};
  if (!socket->pid().empty()) reply["pid"] = socket->pid();
  const boost::json::value reply_value(std::move(reply));
  write(encode_simple(format_, PacketType::connect, name, &reply_value), false);
  auto handlers = static_cast<NamespaceImpl&>(socket->nsp()).handlers();
  for (auto& h : handlers->connection) {
    if (!socket->connected()) break;
    h(socket);
  }
}

SendResult Client::write(const EncodedPacket& packet, bool volatile_, bool compress) {
  if (session_.expired() || !session_raw_->is_open()) return SendResult::dropped;
  eio::Session* s = session_raw_;
  // The slow-client policy is the session's (eio/outbox.hpp): it disconnects; here only what
  // the high-water mark means for one packet.
  SendResult result = SendResult::sent;
  if (s->over_high_water()) {
    if (volatile_) {
      core_.counters.dropped_volatile.inc();
      return SendResult::dropped;
    }
    result = SendResult::buffered;
  }
  if (packet.attachments.empty()) {
    s->send(packet.head, packet.head_binary, compress);
  } else {
    const std::size_t n = 1 + packet.attachments.size();
    std::vector<core::SharedBytes> parts;
    parts.reserve(n);
    parts.push_back(packet.head);
    for (const auto& a : packet.attachments) parts.push_back(a);
    std::unique_ptr<bool[]> binary(new bool[n]);
    binary[0] = packet.head_binary;
    for (std::size_t i = 1; i < n; ++i) binary[i] = true;
    s->send_many(parts.data(), binary.get(), n, compress);
  }
  return result;
}

void Client::remove(const std::string& nsp) {
  std::erase_if(sockets_, [&](const auto& s) { return s->nsp().name() == nsp; });
}

const std::shared_ptr<SocketImpl>* Client::find_socket(std::string_view nsp) const noexcept {
  for (const auto& socket : sockets_)
    if (socket->nsp().name() == nsp) return &socket;
  return nullptr;
}

bool Client::is_connecting(std::string_view nsp) const noexcept {
  return std::find(connecting_.begin(), connecting_.end(), nsp) != connecting_.end();
}

void Client::connecting_done(std::string_view nsp) {
  if (auto it = std::find(connecting_.begin(), connecting_.end(), nsp); it != connecting_.end())
    connecting_.erase(it);
  if (connecting_.empty()) std::vector<std::string>().swap(connecting_);  // no memory once connected
}

void Client::disconnect_all_and_close() {
  auto all = sockets_;
  for (auto& socket : all) socket->disconnect(false);
  close("forced server close");
}

void Client::close(std::string_view reason) {
  if (!close_sockets(reason)) return;
  if (auto s = session_.lock()) s->close();
}

void Client::on_close(std::string_view reason, std::string_view) {
  close_sockets(reason);
}

bool Client::close_sockets(std::string_view reason) {
  if (closed_) return false;
  closed_ = true;
  if (connect_timer_) connect_timer_->cancel();
  auto self = shared_from_this();  // a socket's close may drop the last other reference
  auto all = std::move(sockets_);
  sockets_.clear();
  for (auto& socket : all) socket->on_close(std::string(reason));
  return true;
}

}  // namespace socketio::sio
