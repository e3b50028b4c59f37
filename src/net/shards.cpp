#include "net/shards.hpp"

#include "core/flow_sender.hpp"
#include "core/this_shard.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <optional>

#include <sched.h>

namespace socketio::net {
struct ShardPool::Shard {
  // Concurrency hint 1: exactly one thread runs this context, so Asio can skip its locks.
  boost::asio::io_context io{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{
      io.get_executor()};
};

ShardPool::ShardPool(std::size_t threads) {
  if (threads == 0) threads = 1;
  for (std::size_t i = 0; i < threads; ++i) shards_.push_back(std::make_unique<Shard>());
}

ShardPool::~ShardPool() {
  stop();
  join();
}

boost::asio::io_context& ShardPool::context(std::size_t shard) noexcept {
  return shards_[shard]->io;
}

void ShardPool::post(std::size_t shard, std::function<void()> fn) {
  // Work posted while a client's message is handled runs as that client's (publisher backpressure).
  boost::asio::post(shards_[shard]->io, core::carry_sender(std::move(fn)));
}

void ShardPool::dispatch(std::size_t shard, std::function<void()> fn) {
  if (core::this_shard() == shard)
    fn();
  else
    post(shard, std::move(fn));
}

std::size_t ShardPool::current() noexcept {
  return core::this_shard();
}

namespace {

// The shard's loop with busy polling: block for the first event, then poll (a non-blocking
// epoll_wait and the ready handlers) until nothing came for `spin`. sched_yield() between polls
// lets another thread pinned to the same core (the acceptor, a second shard) run at once instead
// of at the scheduler's next tick.
void run_polling(boost::asio::io_context& io, std::chrono::microseconds spin) {
  using clock = std::chrono::steady_clock;
  while (!io.stopped()) {
    if (io.run_one() == 0) return;  // sleeps until something is ready
    auto last = clock::now();
    for (unsigned idle = 0; !io.stopped();) {
      if (io.poll() > 0) {
        last = clock::now();
        idle = 0;
        continue;
      }
      if (clock::now() - last >= spin) break;
      if (++idle % 8 == 0) sched_yield();
    }
  }
}

}  // namespace

void ShardPool::start(std::chrono::microseconds busy_poll) {
  if (!threads_.empty()) return;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    threads_.emplace_back([this, i, busy_poll] {
      core::set_this_shard(i);
      if (busy_poll.count() > 0)
        run_polling(shards_[i]->io, busy_poll);
      else
        shards_[i]->io.run();
      core::set_this_shard(core::kNoShard);
    });
  }
}

void ShardPool::stop() {
  for (auto& s : shards_) {
    s->work.reset();
    s->io.stop();
  }
}

void ShardPool::join() {
  for (auto& t : threads_)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  threads_.clear();
}

}  // namespace socketio::net
