#include "adapter/cluster/cluster_adapter.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "socketio/metrics.hpp"

#include <spdlog/spdlog.h>

#include <future>
#include <unordered_map>

namespace socketio::cluster {

namespace asio = boost::asio;

namespace {

// Sums the client counts of every node of a broadcast with acks, then reports the total once.
// Parts arrive from the calling shard (this node) and the transport thread (the others).
struct ClientCountSum {
  std::mutex mutex;
  std::size_t total = 0;
  std::size_t parts = 0;
  std::optional<std::size_t> expected_parts;
  std::function<void(std::size_t)> done;

  void add(std::size_t n) {
    update([&] {
      total += n;
      ++parts;
    });
  }
  void expect(std::size_t n) {
    update([&] { expected_parts = n; });
  }

 private:
  template <class Fn>
  void update(Fn&& fn) {
    std::function<void(std::size_t)> cb;
    std::size_t n = 0;
    {
      std::lock_guard lock(mutex);
      fn();
      if (!done || !expected_parts || parts < *expected_parts) return;
      cb = std::move(done);
      done = nullptr;
      n = total;
    }
    cb(n);
  }
};

}  // namespace

// A fetchSockets or serverSideEmit waiting for the other nodes.
struct ClusterCore::Pending {
  MessageType type = MessageType::fetch_sockets;
  std::int64_t expected = 0;  // answers from other nodes
  std::int64_t got = 0;
  std::vector<SocketInfo> sockets;
  AckResponses responses;
  std::function<void(std::vector<SocketInfo>)> on_sockets;
  std::function<void(bool, AckResponses)> on_responses;
  std::unique_ptr<asio::steady_timer> timer;
  std::chrono::steady_clock::time_point started;
};

// A broadcast with acks: client counts and acks from the other nodes.
struct ClusterCore::AckRequest {
  std::shared_ptr<ClientCountSum> count;
  std::function<void(Args)> on_ack;
  std::unique_ptr<asio::steady_timer> timer;
};

// How long requests to the other nodes take, answered or timed out (socketio_cluster_request_*;
// observed on the transport's thread: the registry's shared slot, fine at request rates).
struct RequestMetrics {
  Metrics::Histogram duration[2];  // fetchSockets, serverSideEmit
  Metrics::Counter timeouts[2];

  explicit RequestMetrics(Metrics* m) {
    if (!m) return;
    static const char* const kTypes[2] = {"fetchSockets", "serverSideEmit"};
    for (int i = 0; i < 2; ++i) {
      duration[i] = m->histogram(
          "socketio_cluster_request_duration_seconds",
          "Requests to the other nodes, from publish to the last answer or the timeout",
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, {{"type", kTypes[i]}});
      timeouts[i] = m->counter("socketio_cluster_request_timeouts_total",
                               "Requests to the other nodes that timed out before every node answered",
                               {{"type", kTypes[i]}});
    }
  }
  void done(MessageType type, std::chrono::steady_clock::time_point started, bool timed_out) const {
    const int i = type == MessageType::fetch_sockets ? 0 : 1;
    duration[i].observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (timed_out) timeouts[i].inc();
  }
};

struct ClusterCore::State {
  std::unordered_map<std::string, Pending> pending;
  std::unordered_map<std::string, AckRequest> acks;
  RequestMetrics metrics;
};

ClusterCore::ClusterCore(LocalNamespace& local, asio::io_context& io, std::string uid,
                         std::chrono::milliseconds requests_timeout)
    : io_(io),
      uid_(std::move(uid)),
      nsp_(local.name()),
      requests_timeout_(requests_timeout),
      recovery_(local.recovery().has_value()),
      local_(&local),
      state_(std::make_unique<State>(State{{}, {}, RequestMetrics(local.metrics())})) {}

ClusterCore::~ClusterCore() = default;

void ClusterCore::detach() {
  std::lock_guard lock(mutex_);
  local_ = nullptr;
}

template <class Fn>
void ClusterCore::with_local(Fn&& fn) {
  // The local part only posts to the shards (server-side handlers included), so the lock is held
  // for as long as a post takes.
  std::lock_guard lock(mutex_);
  if (local_) fn(*local_);
}

void ClusterCore::post(std::function<void()> fn) {
  asio::post(io_, std::move(fn));
}

void ClusterCore::clear_requests() {
  state_->pending.clear();
  state_->acks.clear();
}

ClusterMessage ClusterCore::message(MessageType type) const {
  ClusterMessage m;
  m.type = type;
  m.uid = uid_;
  m.nsp = nsp_;
  return m;
}

void ClusterCore::count_servers(std::function<void(std::int64_t)> done) {
  transport_->count_servers([self = shared_from_this(), done = std::move(done)](std::int64_t n) {
    if (n > 0) self->server_count_ = static_cast<std::size_t>(n);
    done(n);
  });
}

bool ClusterCore::recoverable(const OutgoingPacket& packet, const BroadcastOptions& opts) const noexcept {
  return recovery_ && packet.type == 2 && !opts.flags.volatile_;
}

void ClusterCore::on_message(ClusterMessage m, const std::string& offset) {
  if (m.uid == uid_ || m.nsp != nsp_) return;
  if (is_response(m.type)) return on_response(m);
  if (!offset.empty() && m.type == MessageType::broadcast && m.request_id.empty() &&
      recoverable(m.packet, m.opts))
    m.packet.data.emplace_back(offset);
  on_request(m);
}

void ClusterCore::on_request(ClusterMessage& m) {
  auto self = shared_from_this();
  // Our own request coming back (a transport that does not say who sent it).
  if (!m.request_id.empty() &&
      (state_->pending.contains(m.request_id) || state_->acks.contains(m.request_id)))
    return;
  m.opts.flags.local = true;
  const std::string from = m.uid;
  const std::string id = m.request_id;
  switch (m.type) {
    case MessageType::broadcast:
      if (id.empty()) return with_local([&](LocalNamespace& l) { l.broadcast(m.packet, m.opts); });
      return with_local([&](LocalNamespace& l) {
        l.broadcast_with_ack(
            m.packet, m.opts,
            [self, from, id](std::size_t n) {
              auto r = self->message(MessageType::broadcast_client_count);
              r.request_id = id;
              r.client_count = n;
              self->transport_->publish_response(from, r);
            },
            [self, from, id](Args a) {
              auto r = self->message(MessageType::broadcast_ack);
              r.request_id = id;
              r.args = std::move(a);
              self->transport_->publish_response(from, r);
            });
      });
    case MessageType::sockets_join:
      return with_local([&](LocalNamespace& l) { l.add_sockets(m.opts, m.rooms); });
    case MessageType::sockets_leave:
      return with_local([&](LocalNamespace& l) { l.del_sockets(m.opts, m.rooms); });
    case MessageType::disconnect_sockets:
      return with_local([&](LocalNamespace& l) { l.disconnect_sockets(m.opts, m.close); });
    case MessageType::fetch_sockets:
      return with_local([&](LocalNamespace& l) {
        l.fetch_sockets(m.opts, [self, from, id, ids_only = m.ids_only](std::vector<SocketInfo> sockets) {
          auto r = self->message(MessageType::fetch_sockets_response);
          r.request_id = id;
          r.ids_only = ids_only;
          r.sockets = std::move(sockets);
          self->transport_->publish_response(from, r);
        });
      });
    case MessageType::all_rooms:
      return with_local([&](LocalNamespace& l) {
        l.all_rooms([self, from, id](std::vector<std::string> rooms) {
          auto r = self->message(MessageType::all_rooms_response);
          r.request_id = id;
          r.rooms = std::move(rooms);
          self->transport_->publish_response(from, r);
        });
      });
    case MessageType::server_side_emit: {
      auto values = m.args.values();
      const std::string event(values[0].get_string());  // checked by the decoders
      values.erase(values.begin());
      std::function<void(Args)> ack;
      if (!id.empty()) {
        auto called = std::make_shared<std::atomic<bool>>(false);
        ack = [self, from, id, called](Args a) {
          if (called->exchange(true)) return;  // only the first answer counts, as in Node
          auto r = self->message(MessageType::server_side_emit_response);
          r.request_id = id;
          r.args = std::move(a);
          self->transport_->publish_response(from, r);
        };
      }
      return with_local([&](LocalNamespace& l) {
        l.on_server_side_emit(event, Args(std::move(values), m.args.attachments()), std::move(ack));
      });
    }
    default:
      return;  // heartbeats and ADAPTER_CLOSE: node liveness, counted by the transport
  }
}

void ClusterCore::on_response(ClusterMessage& m) {
  auto& st = *state_;
  if (auto it = st.acks.find(m.request_id); it != st.acks.end()) {
    if (m.type == MessageType::broadcast_client_count)
      it->second.count->add(m.client_count);
    else if (m.type == MessageType::broadcast_ack)
      it->second.on_ack(std::move(m.args));
    return;
  }
  auto it = st.pending.find(m.request_id);
  if (it == st.pending.end()) return;  // someone else's, or timed out
  auto& p = it->second;
  ++p.got;
  if (p.type == MessageType::fetch_sockets) {
    for (auto& s : m.sockets) p.sockets.push_back(std::move(s));
  } else {
    boost::json::array a;
    a.push_back(m.args.empty() ? boost::json::value(nullptr) : m.args[0]);
    p.responses.emplace_back(std::move(a), m.args.attachments());
  }
  if (p.got < p.expected) return;
  auto done = std::move(p);
  st.pending.erase(it);
  st.metrics.done(done.type, done.started, false);
  if (done.on_sockets) done.on_sockets(std::move(done.sockets));
  if (done.on_responses) done.on_responses(false, std::move(done.responses));
}

void ClusterCore::start_request(ClusterMessage m, std::int64_t expected, std::chrono::milliseconds timeout,
                                std::function<void(std::vector<SocketInfo>)> on_sockets,
                                std::function<void(bool, AckResponses)> on_responses,
                                std::vector<SocketInfo> mine) {
  m.request_id = transport_->new_request_id();
  auto& p = state_->pending[m.request_id];
  p.type = m.type;
  p.expected = expected;
  p.sockets = std::move(mine);
  p.on_sockets = std::move(on_sockets);
  p.on_responses = std::move(on_responses);
  p.started = std::chrono::steady_clock::now();
  p.timer = std::make_unique<asio::steady_timer>(io_, timeout);
  p.timer->async_wait([self = shared_from_this(), id = m.request_id](boost::system::error_code ec) {
    if (ec) return;
    auto it = self->state_->pending.find(id);
    if (it == self->state_->pending.end()) return;
    auto pending = std::move(it->second);
    self->state_->pending.erase(it);
    self->state_->metrics.done(pending.type, pending.started, true);
    spdlog::warn("cluster: {} timed out ({} of {} nodes answered)",
                 pending.type == MessageType::fetch_sockets ? "fetchSockets" : "serverSideEmit", pending.got,
                 pending.expected);
    if (pending.on_sockets) pending.on_sockets(std::move(pending.sockets));
    if (pending.on_responses) pending.on_responses(true, std::move(pending.responses));
  });
  transport_->publish(m);
}

ClusterAdapter::ClusterAdapter(LocalNamespace& local, asio::io_context& io, std::string uid,
                               std::chrono::milliseconds requests_timeout)
    : Adapter(local), core_(std::make_shared<ClusterCore>(local, io, std::move(uid), requests_timeout)) {}

ClusterAdapter::~ClusterAdapter() {
  core_->detach();
  if (core_->io().get_executor().running_in_this_thread()) {
    core_->clear_requests();
    return;
  }
  // Wait for it: an answer already queued on the transport's thread would otherwise complete a
  // request into a server that is being destroyed (its shard pool gone: seen at shutdown).
  auto done = std::make_shared<std::promise<void>>();
  auto cleared = done->get_future();
  core_->post([core = core_, done] {
    core->clear_requests();
    done->set_value();
  });
  cleared.wait_for(std::chrono::seconds(2));
}

void ClusterAdapter::set_transport(std::shared_ptr<Transport> transport) {
  core_->transport_ = std::move(transport);
}

const std::string& ClusterAdapter::uid() const noexcept {
  return core_->uid();
}

std::size_t ClusterAdapter::server_count() const {
  core_->post([core = core_] { core->count_servers([](std::int64_t) {}); });
  return core_->server_count_.load();
}

void ClusterAdapter::on_room_created(const std::string& room) {
  core_->transport_->on_room_created(room);
}

void ClusterAdapter::on_room_deleted(const std::string& room) {
  core_->transport_->on_room_deleted(room);
}

bool ClusterAdapter::keeps_sessions() const {
  return core_->transport_->keeps_sessions();
}

void ClusterAdapter::persist_session(PersistedSession session) {
  if (!keeps_sessions()) return Adapter::persist_session(std::move(session));
  core_->transport_->persist_session(std::move(session));
}

void ClusterAdapter::restore_session(const std::string& pid, const std::string& offset,
                                     std::function<void(std::optional<RestoredSession>)> done) {
  if (!keeps_sessions()) return Adapter::restore_session(pid, offset, std::move(done));
  core_->transport_->restore_session(pid, offset, std::move(done));
}

void ClusterAdapter::save_session(const PersistedSession& session) {
  if (keeps_sessions()) core_->transport_->save_session(session);
}

void ClusterAdapter::drop_session(const std::string& pid) {
  if (keeps_sessions()) core_->transport_->drop_session(pid);
}

void ClusterAdapter::broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) {
  if (!opts.flags.local) {
    auto m = core_->message(MessageType::broadcast);
    m.packet = packet;
    m.packet.nsp = core_->nsp();
    m.opts = opts;
    if (keeps_sessions() && core_->recoverable(packet, opts)) {
      // As socket.io-adapter's ClusterAdapter: delivered here once stored, with its position as
      // the offset (without one when it could not be stored: local delivery never waits for a
      // Redis that is down).
      return core_->transport_->publish_with_offset(
          m, [core = core_, packet = m.packet, opts](std::string offset) mutable {
            if (!offset.empty()) packet.data.emplace_back(std::move(offset));
            core->with_local([&](LocalNamespace& l) { l.broadcast(packet, opts); });
          });
    }
    core_->transport_->publish(m);
  }
  local_.broadcast(packet, opts);
}

void ClusterAdapter::broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                                        std::function<void(std::size_t)> client_count,
                                        std::function<void(Args)> on_ack) {
  if (opts.flags.local)
    return local_.broadcast_with_ack(packet, opts, std::move(client_count), std::move(on_ack));
  // Every node reports how many of its clients got the packet (BROADCAST_CLIENT_COUNT), then
  // each of their acks (BROADCAST_ACK); client_count gets the sum once every node answered (the
  // number of nodes from the transport). A node that never answers leaves the total unknown: the
  // caller's timeout ends the wait, with the acks that arrived.
  auto sum = std::make_shared<ClientCountSum>();
  sum->done = std::move(client_count);
  auto m = core_->message(MessageType::broadcast);
  m.request_id = core_->transport_->new_request_id();
  m.packet = packet;
  m.packet.nsp = core_->nsp();
  m.opts = opts;
  const auto wait = opts.flags.timeout.value_or(core_->requests_timeout_);
  core_->post([core = core_, sum, on_ack, wait, m = std::move(m)] {
    auto& a = core->state_->acks[m.request_id];
    a.count = sum;
    a.on_ack = on_ack;
    a.timer = std::make_unique<asio::steady_timer>(core->io(), wait);
    a.timer->async_wait([core, id = m.request_id](boost::system::error_code ec) {
      if (!ec) core->state_->acks.erase(id);  // later answers are ignored, as in the Node adapter
    });
    core->transport_->publish(m);
    core->count_servers([sum](std::int64_t n) { sum->expect(n > 1 ? static_cast<std::size_t>(n) : 1); });
  });
  local_.broadcast_with_ack(
      packet, opts, [sum](std::size_t n) { sum->add(n); }, std::move(on_ack));
}

void ClusterAdapter::fetch_sockets(const BroadcastOptions& opts,
                                   std::function<void(std::vector<SocketInfo>)> done) {
  if (opts.flags.local) return local_.fetch_sockets(opts, std::move(done));
  local_.fetch_sockets(
      opts, [core = core_, opts, done = std::move(done)](std::vector<SocketInfo> mine) mutable {
        core->post([core, opts, done = std::move(done), mine = std::move(mine)]() mutable {
          core->count_servers(
              [core, opts, done = std::move(done), mine = std::move(mine)](std::int64_t n) mutable {
                if (n <= 1) return done(std::move(mine));
                auto m = core->message(MessageType::fetch_sockets);
                m.opts = opts;
                core->start_request(std::move(m), n - 1, core->requests_timeout_, std::move(done), nullptr,
                                    std::move(mine));
              });
        });
      });
}

void ClusterAdapter::add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  // Node applies its own SOCKETS_JOIN when it comes back from the transport; we ignore our own
  // messages, so the local part runs here.
  local_.add_sockets(opts, rooms);
  if (opts.flags.local) return;
  auto m = core_->message(MessageType::sockets_join);
  m.opts = opts;
  m.rooms = rooms;
  core_->transport_->publish(m);
}

void ClusterAdapter::del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) {
  local_.del_sockets(opts, rooms);
  if (opts.flags.local) return;
  auto m = core_->message(MessageType::sockets_leave);
  m.opts = opts;
  m.rooms = rooms;
  core_->transport_->publish(m);
}

void ClusterAdapter::disconnect_sockets(const BroadcastOptions& opts, bool close) {
  local_.disconnect_sockets(opts, close);
  if (opts.flags.local) return;
  auto m = core_->message(MessageType::disconnect_sockets);
  m.opts = opts;
  m.close = close;
  core_->transport_->publish(m);
}

void ClusterAdapter::server_side_emit(const std::string& event, const Args& args,
                                      std::optional<std::chrono::milliseconds> timeout,
                                      std::function<void(bool timed_out, AckResponses)> done) {
  auto m = core_->message(MessageType::server_side_emit);
  boost::json::array data;
  data.emplace_back(event);
  for (const auto& v : args.values()) data.push_back(v);
  m.args = Args(std::move(data), args.attachments());
  if (!done) return core_->transport_->publish(m);
  const auto wait = timeout.value_or(core_->requests_timeout_);
  core_->post([core = core_, wait, m = std::move(m), done = std::move(done)]() mutable {
    core->count_servers([core, wait, m = std::move(m), done = std::move(done)](std::int64_t n) mutable {
      const std::int64_t others = n - 1;  // every node but this one answers
      if (others <= 0) return done(false, {});
      core->start_request(std::move(m), others, wait, nullptr, std::move(done), {});
    });
  });
}

}  // namespace socketio::cluster
