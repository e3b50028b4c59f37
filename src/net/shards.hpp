// The worker threads: N shards, each one thread running its own io_context. A connection, an
// Engine.IO session and a Socket.IO socket live on exactly one shard for their whole life and
// only that thread touches them; other threads reach them with post(). Created and run by the
// application's main thread; post() and current() may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace socketio::net {

class ShardPool {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  explicit ShardPool(std::size_t threads);
  ~ShardPool();
  ShardPool(const ShardPool&) = delete;
  ShardPool& operator=(const ShardPool&) = delete;

  std::size_t size() const noexcept { return shards_.size(); }
  boost::asio::io_context& context(std::size_t shard) noexcept;

  // Runs fn on the shard's thread (queued; never inline).
  void post(std::size_t shard, std::function<void()> fn);
  // Runs fn inline when already on that shard, else posts.
  void dispatch(std::size_t shard, std::function<void()> fn);

  // The shard of the calling thread, or npos when called from elsewhere.
  static std::size_t current() noexcept;

  // Starts one thread per shard (idempotent). join() waits for them after stop(). busy_poll > 0:
  // a shard that ran out of ready work polls for more (yielding the core to any other runnable
  // thread between polls) for that long before it blocks.
  void start(std::chrono::microseconds busy_poll = std::chrono::microseconds(0));
  void stop();  // any thread: every io_context stops; pending handlers are dropped
  void join();

 private:
  struct Shard;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
};

}  // namespace socketio::net
