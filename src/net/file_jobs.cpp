// FileJobs: a mutex-guarded deque and a condition variable. Jobs are rare next to socket events
// (cache misses and revalidations of --static files), so nothing cleverer is worth it.
#include "net/file_jobs.hpp"

#include <utility>

namespace socketio::net {

FileJobs::FileJobs(std::size_t threads, std::size_t max_pending) : max_pending_(max_pending) {
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

FileJobs::~FileJobs() {
  stop();
}

bool FileJobs::try_post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping() || queue_.size() >= max_pending_) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

std::size_t FileJobs::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void FileJobs::stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_relaxed);
    dropped.swap(queue_);
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  // `dropped` goes here, outside the lock: a job's captures may take locks of their own.
}

void FileJobs::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping() || !queue_.empty(); });
      if (stopping()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace socketio::net
