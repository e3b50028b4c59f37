#include <spdlog/spdlog.h>

#include "sio/internal.hpp"

namespace socketio::sio {

NamespaceImpl::NamespaceImpl(ServerCore& core, std::string name, std::shared_ptr<Handlers> handlers)
    : core_(core), name_(std::move(name)), handlers_(handlers), local_(core, name_, std::move(handlers)) {}

void NamespaceImpl::set_adapter(std::unique_ptr<Adapter> a) {
  adapter_ = std::move(a);
  local_.set_adapter(adapter_.get());
  local_.set_owner(weak_from_this());
}

NamespaceImpl::~NamespaceImpl() = default;

void NamespaceImpl::server_side_emit(std::string_view event, Args args,
                                     std::function<void(bool, AckResponses)> done,
                                     std::chrono::milliseconds timeout) {
  if (!done) return adapter_->server_side_emit(std::string(event), args, std::nullopt, nullptr);
  // Answers come on the cluster adapter's thread: back to the calling shard.
  auto* pool = core_.pool;
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < pool->size() ? here : 0;
  adapter_->server_side_emit(std::string(event), args, timeout,
                             [pool, origin, done = std::move(done)](bool timed_out, AckResponses responses) {
                               pool->dispatch(origin,
                                              [done, timed_out, responses = std::move(responses)]() mutable {
                                                done(timed_out, std::move(responses));
                                              });
                             });
}

void NamespaceImpl::remove_socket(std::size_t shard, SocketImpl* s) {
  local_.remove_socket(shard, s);
  if (parent_of_ && local_.socket_count() == 0) core_.maybe_remove_child(*this);
}

void NamespaceImpl::connect_done() {
  if (pending_connects_.fetch_sub(1, std::memory_order_relaxed) == 1 && parent_of_)
    core_.maybe_remove_child(*this);
}

void NamespaceImpl::add_child(std::shared_ptr<NamespaceImpl> child) {
  std::lock_guard lock(children_mutex_);
  children_.push_back(std::move(child));
}

void NamespaceImpl::remove_child(const NamespaceImpl* child) {
  std::lock_guard lock(children_mutex_);
  std::erase_if(children_, [child](const auto& c) { return c.get() == child; });
}

std::vector<std::shared_ptr<NamespaceImpl>> NamespaceImpl::children() const {
  std::lock_guard lock(children_mutex_);
  return children_;
}

}  // namespace socketio::sio

namespace socketio {

BroadcastOperator BroadcastOperator::to(std::string room) const {
  auto o = opts_;
  o.rooms.push_back(std::move(room));
  return BroadcastOperator(*nsp_, std::move(o));
}

BroadcastOperator BroadcastOperator::except(std::string room) const {
  auto o = opts_;
  o.except.push_back(std::move(room));
  return BroadcastOperator(*nsp_, std::move(o));
}

BroadcastOperator BroadcastOperator::volatile_() const {
  auto o = opts_;
  o.flags.volatile_ = true;
  return BroadcastOperator(*nsp_, std::move(o));
}

BroadcastOperator BroadcastOperator::compress(bool on) const {
  auto o = opts_;
  o.flags.compress = on;
  return BroadcastOperator(*nsp_, std::move(o));
}

BroadcastOperator BroadcastOperator::local() const {
  auto o = opts_;
  o.flags.local = true;
  return BroadcastOperator(*nsp_, std::move(o));
}

BroadcastOperator BroadcastOperator::timeout(std::chrono::milliseconds t) const {
  auto o = opts_;
  o.flags.timeout = t;
  return BroadcastOperator(*nsp_, std::move(o));
}

BroadcastOperator BroadcastOperator::detail(SocketDetail d) const {
  auto o = opts_;
  o.flags.detail = d;
  return BroadcastOperator(*nsp_, std::move(o));
}

static OutgoingPacket make_packet(const Namespace& nsp, std::string_view event, Args&& args) {
  OutgoingPacket p;
  p.nsp = nsp.name();
  p.data = sio::event_array(event, args);
  p.attachments = std::move(args.attachments());
  return p;
}

void BroadcastOperator::emit(std::string_view event, Args args) const {
  nsp_->adapter().broadcast(make_packet(*nsp_, event, std::move(args)), opts_);
}

void BroadcastOperator::emit_with_ack(std::string_view event, Args args,
                                      BroadcastAckCallback callback) const {
  auto& impl = static_cast<sio::NamespaceImpl&>(*nsp_);
  auto* pool = impl.core().pool;
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < pool->size() ? here : 0;
  struct State {
    std::optional<std::size_t> expected;
    std::vector<Args> responses;
    BroadcastAckCallback done;
    std::unique_ptr<boost::asio::steady_timer> timer;
    void check(bool timed_out) {
      if (!done) return;
      if (timed_out || (expected && responses.size() >= *expected)) {
        auto cb = std::move(done);
        done = nullptr;
        if (timer) timer->cancel();
        cb(timed_out, std::move(responses));
      }
    }
  };
  auto st = std::make_shared<State>();
  st->done = std::move(callback);
  const auto timeout = opts_.flags.timeout.value_or(std::chrono::milliseconds(0));
  auto start = [st, pool, origin, timeout] {
    if (timeout.count() <= 0) return;
    st->timer = std::make_unique<boost::asio::steady_timer>(pool->context(origin), timeout);
    st->timer->async_wait([st](boost::system::error_code ec) {
      if (!ec) st->check(true);
    });
  };
  pool->dispatch(origin, start);
  // A cluster adapter answers from its own thread for the other nodes: back to the origin shard.
  nsp_->adapter().broadcast_with_ack(
      make_packet(*nsp_, event, std::move(args)), opts_,
      [st, pool, origin](std::size_t n) {
        pool->dispatch(origin, [st, n] {
          st->expected = n;
          st->check(false);
        });
      },
      [st, pool, origin](Args a) {
        pool->dispatch(origin, [st, a = std::move(a)]() mutable {
          st->responses.push_back(std::move(a));
          st->check(false);
        });
      });
}

void BroadcastOperator::fetch_sockets(std::function<void(std::vector<SocketInfo>)> done) const {
  // A cluster adapter completes on its own thread when other nodes answered: back to the
  // calling shard, where the caller's socket (if any) may be touched.
  auto* pool = static_cast<sio::NamespaceImpl&>(*nsp_).core().pool;
  const auto here = net::ShardPool::current();
  const std::size_t origin = here < pool->size() ? here : 0;
  nsp_->adapter().fetch_sockets(opts_,
                                [pool, origin, done = std::move(done)](std::vector<SocketInfo> sockets) {
                                  pool->dispatch(origin, [done, sockets = std::move(sockets)]() mutable {
                                    if (done) done(std::move(sockets));
                                  });
                                });
}

void BroadcastOperator::sockets_join(std::vector<std::string> rooms) const {
  nsp_->adapter().add_sockets(opts_, rooms);
}

void BroadcastOperator::sockets_leave(std::vector<std::string> rooms) const {
  nsp_->adapter().del_sockets(opts_, rooms);
}

void BroadcastOperator::disconnect_sockets(bool close) const {
  nsp_->adapter().disconnect_sockets(opts_, close);
}

}  // namespace socketio
