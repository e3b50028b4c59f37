// The cluster core: socket.io-adapter's ClusterAdapter in C++. The request/response protocol
// every cluster transport shares lives here once: broadcasts (with acks: client counts summed over
// the nodes, acks forwarded), socketsJoin/Leave, disconnectSockets, fetchSockets and
// serverSideEmit (requests waiting for the other nodes' answers, bounded in time), and the
// answers this node gives to the others' requests. A Transport only moves ClusterMessages
// between nodes (Redis pub/sub classic or sharded, Redis streams) and counts the nodes.
//
// Threads: the adapter's methods may be called from any shard. The bookkeeping of requests in
// flight lives on the transport's thread (the io_context given at construction), where the
// transport also delivers incoming messages (on_message). Callbacks that wait for other nodes
// complete on that thread; the public Namespace / BroadcastOperator calls bring them back to the
// calling shard, and server-side handlers run on a shard (see NamespaceImpl), so user code never
// runs on the transport's thread.
#pragma once

#include "adapter/cluster/cluster_message.hpp"
#include "socketio/adapter.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace socketio::cluster {

class Transport {
 public:
  virtual ~Transport() = default;
  // Any thread: to every other node serving this namespace (m.uid and m.nsp are set).
  virtual void publish(const ClusterMessage& m) = 0;
  // Any thread: the answer to a request of node `requester`.
  virtual void publish_response(const std::string& requester, const ClusterMessage& m) = 0;
  // Transport thread: how many nodes serve this namespace, this one included; -1 when unknown.
  virtual void count_servers(std::function<void(std::int64_t)> done) = 0;
  // A fresh request id, in the format the transport's peers use.
  virtual std::string new_request_id() = 0;
  // A room (not a socket's own) appeared on / left this node: for transports that subscribe per
  // room. Called on the shard that made the change.
  virtual void on_room_created(const std::string& room) { (void)room; }
  virtual void on_room_deleted(const std::string& room) { (void)room; }

  // Connection state recovery kept by the transport (Redis streams; see
  // Adapter::keeps_sessions): a broadcast is stored at a position of the transport's log, which
  // becomes the offset its recoverable packets carry, and sessions live in the transport's store.
  virtual bool keeps_sessions() const { return false; }
  // Any thread: publishes a broadcast; done(offset) on the transport's thread once it is stored,
  // done("") when it could not be (Redis down or slow): it is then delivered without an offset.
  virtual void publish_with_offset(const ClusterMessage& m, std::function<void(std::string offset)> done) {
    publish(m);
    done({});
  }
  virtual void persist_session(PersistedSession session) { (void)session; }
  virtual void restore_session(const std::string& pid, const std::string& offset,
                               std::function<void(std::optional<RestoredSession>)> done) {
    (void)pid;
    (void)offset;
    done(std::nullopt);
  }
  virtual void save_session(const PersistedSession& session) { (void)session; }
  virtual void drop_session(const std::string& pid) { (void)pid; }
};

class ClusterCore;

class ClusterAdapter : public Adapter {
 public:
  // uid: this node's id for this namespace (as its peers format it).
  ClusterAdapter(LocalNamespace& local, boost::asio::io_context& io, std::string uid,
                 std::chrono::milliseconds requests_timeout);
  ~ClusterAdapter() override;

  // Once, right after construction (the transport needs the core to deliver messages to).
  void set_transport(std::shared_ptr<Transport> transport);
  const std::shared_ptr<ClusterCore>& core() const noexcept { return core_; }

  void broadcast(const OutgoingPacket& packet, const BroadcastOptions& opts) override;
  void broadcast_with_ack(const OutgoingPacket& packet, const BroadcastOptions& opts,
                          std::function<void(std::size_t)> client_count,
                          std::function<void(Args)> on_ack) override;
  void fetch_sockets(const BroadcastOptions& opts,
                     std::function<void(std::vector<SocketInfo>)> done) override;
  void add_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override;
  void del_sockets(const BroadcastOptions& opts, const std::vector<std::string>& rooms) override;
  void disconnect_sockets(const BroadcastOptions& opts, bool close) override;
  void server_side_emit(const std::string& event, const Args& args,
                        std::optional<std::chrono::milliseconds> timeout,
                        std::function<void(bool timed_out, AckResponses)> done) override;
  // The last node count the transport reported (1 until known); asks again in the background.
  std::size_t server_count() const override;
  void on_room_created(const std::string& room) override;
  void on_room_deleted(const std::string& room) override;
  // The transport's when it keeps sessions, the in-process store's otherwise.
  bool keeps_sessions() const override;
  void persist_session(PersistedSession session) override;
  void restore_session(const std::string& pid, const std::string& offset,
                       std::function<void(std::optional<RestoredSession>)> done) override;
  void save_session(const PersistedSession& session) override;
  void drop_session(const std::string& pid) override;

  const std::string& uid() const noexcept;

 private:
  std::shared_ptr<ClusterCore> core_;
};

// Shared by the adapter (shards) and the transport (its thread); outlives the adapter while
// messages or timers still refer to it. Only ClusterAdapter and transports use it.
class ClusterCore : public std::enable_shared_from_this<ClusterCore> {
 public:
  ClusterCore(LocalNamespace& local, boost::asio::io_context& io, std::string uid,
              std::chrono::milliseconds requests_timeout);
  ~ClusterCore();

  const std::string& uid() const noexcept { return uid_; }
  const std::string& nsp() const noexcept { return nsp_; }
  boost::asio::io_context& io() noexcept { return io_; }
  Transport& transport() noexcept { return *transport_; }

  // Transport thread: a message from another node (own messages and other namespaces' are
  // ignored here). offset: where the transport stored it (a stream entry id), "" when it keeps
  // no positions; a recoverable broadcast carries it to the clients, as socket.io-adapter does.
  void on_message(ClusterMessage m, const std::string& offset = {});
  // Recovery is on and the packet is recoverable (an EVENT without ack, not volatile).
  bool recoverable(const OutgoingPacket& packet, const BroadcastOptions& opts) const noexcept;
  // Transport thread: every request in flight is dropped (the namespace or the transport is
  // going away); their callbacks are not called.
  void clear_requests();
  // Any thread: the namespace is being destroyed; later messages reach nothing.
  void detach();

 private:
  friend class ClusterAdapter;
  struct Pending;
  struct AckRequest;
  struct State;

  ClusterMessage message(MessageType type) const;
  template <class Fn>
  void with_local(Fn&& fn);
  // Runs fn on the transport's thread.
  void post(std::function<void()> fn);
  void on_request(ClusterMessage& m);
  void on_response(ClusterMessage& m);
  // Transport thread: publishes `m` as a request waiting for the other nodes' answers.
  void start_request(ClusterMessage m, std::int64_t expected, std::chrono::milliseconds timeout,
                     std::function<void(std::vector<SocketInfo>)> on_sockets,
                     std::function<void(bool, AckResponses)> on_responses, std::vector<SocketInfo> mine);
  void count_servers(std::function<void(std::int64_t)> done);

  boost::asio::io_context& io_;
  std::string uid_;
  std::string nsp_;
  std::chrono::milliseconds requests_timeout_;
  bool recovery_;  // connection state recovery is on
  std::shared_ptr<Transport> transport_;
  std::mutex mutex_;  // guards local_ (cleared by detach)
  LocalNamespace* local_;
  std::atomic<std::size_t> server_count_{1};
  std::unique_ptr<State> state_;  // requests in flight: transport thread only
};

}  // namespace socketio::cluster
