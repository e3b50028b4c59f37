// FileJobs: a few dedicated threads for the file-system work of --static requests (realpath,
// stat, open, read), so that a slow disk, a network file system or a file lease being broken
// stalls those requests only, never the sockets of a shard. Bounded: at most max_pending jobs
// wait for a thread; try_post() refuses beyond (the caller answers 503).
//
// Why a small pool and not one thread: with one, a single slow read (a cold 10 MB file, a
// lease held for seconds) would hold every other --static request behind it, including cache
// revalidations that take a microsecond; a second thread lets those pass. Why not more: the work
// is I/O on one device or page-cache copies, where more threads add contention, not throughput,
// and the shards need the cores (nginx's aio pool and libuv's pool of 4 are sized for servers
// that do all their file I/O there; this one serves a few page assets, mostly from its cache).
//
// Thread-safety: try_post(), pending() and stopping() from any thread; stop() (and the
// destructor) from one thread that is not a job's: it waits for the running jobs and destroys the
// queued ones unrun. A running job that could wait long should poll stopping(); one stuck in a
// system call (a hung network file system) holds stop() until the call returns. Beast- and
// Asio-free.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace socketio::net {

class FileJobs {
 public:
  FileJobs(std::size_t threads, std::size_t max_pending);
  ~FileJobs();
  FileJobs(const FileJobs&) = delete;
  FileJobs& operator=(const FileJobs&) = delete;

  // False (and `job` is dropped) when max_pending jobs already wait, or after stop().
  bool try_post(std::function<void()> job);
  // Jobs waiting for a thread (not those running).
  std::size_t pending() const;
  // True once stop() began: a job that waits (polls) should give up.
  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  void stop();

 private:
  void run();

  const std::size_t max_pending_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::atomic<bool> stopping_{false};  // set under mutex_ (for wake_), readable without it
  std::vector<std::thread> threads_;
};

}  // namespace socketio::net
