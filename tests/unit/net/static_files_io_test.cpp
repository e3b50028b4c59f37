// Unit tests for the threads of --static (src/net/file_jobs.*, StaticFiles' I/O side): a cache
// hit is answered inside on_request() on the caller's thread, without the disk, for as long as
// revalidate_after; a miss is answered from an I/O thread, so a file whose open() blocks (a file
// lease held by this test) holds no caller; FIFOs are refused at once; the queue bound answers
// 503 + Retry-After and is counted; a job whose client left is skipped and counted; stopping is
// not held by a leased file. Also run under TSan (label "threads", scripts/test.sh).
#include "net/file_jobs.hpp"
#include "net/static_files.hpp"
#include "static_test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>

namespace socketio::net {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Holds a write lease on a file (fcntl F_SETLEASE): until release(), any open() of that file
// blocks (or fails with EWOULDBLOCK under O_NONBLOCK) in the kernel, as a slow disk or network
// file system would hold a read. The kernel signals the holder (SIGIO, ignored here) and breaks
// the lease itself after /proc/sys/fs/lease-break-time (45 s by default).
class Lease {
 public:
  explicit Lease(const fs::path& file) {
    std::signal(SIGIO, SIG_IGN);
    fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0 || ::fcntl(fd_, F_SETLEASE, F_WRLCK) != 0)
      ADD_FAILURE() << "cannot take a lease on " << file << ": " << std::strerror(errno);
  }
  ~Lease() { release(); }
  void release() {
    if (fd_ < 0) return;
    ::fcntl(fd_, F_SETLEASE, F_UNLCK);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

StaticOptions options_for(const fs::path& root) {
  StaticOptions opts;
  opts.static_dir = root.string();
  return opts;
}

// The gauge is reported at scrape time (a collector): read it from the exposition text.
double pending_jobs(const Metrics& metrics) {
  const std::string text = metrics.scrape();
  const std::string name = "\nsocketio_static_pending_jobs ";
  const auto at = text.find(name);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

std::shared_ptr<WaitingResponder> send(StaticFiles& files, const std::string& target) {
  auto responder = std::make_shared<WaitingResponder>();
  files.on_request(get(target), responder);
  return responder;
}

TEST(FileJobs, RunsJobsOnItsThreadsAndRefusesPastTheBound) {
  FileJobs jobs(1, 2);
  std::promise<void> gate;
  auto opened = gate.get_future().share();
  std::promise<std::thread::id> ran_on;
  ASSERT_TRUE(jobs.try_post([&] {
    ran_on.set_value(std::this_thread::get_id());
    opened.wait();
  }));
  const auto worker = ran_on.get_future().get();  // the first job now holds the only thread
  EXPECT_NE(worker, std::this_thread::get_id());
  std::atomic<int> ran{0};
  EXPECT_TRUE(jobs.try_post([&] { ++ran; }));
  EXPECT_TRUE(jobs.try_post([&] { ++ran; }));
  EXPECT_EQ(jobs.pending(), 2u);
  EXPECT_FALSE(jobs.try_post([&] { ran += 100; })) << "a third waiting job is over the bound";
  gate.set_value();
  for (int i = 0; i < 500 && ran.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(jobs.pending(), 0u);
  jobs.stop();
  EXPECT_FALSE(jobs.try_post([] {})) << "nothing after stop()";
}

TEST(FileJobs, StopDropsWhatWaitsAndJoinsWhatRuns) {
  auto alive = std::make_shared<int>(1);
  std::atomic<bool> ran_second{false};
  {
    FileJobs jobs(1, 8);
    std::promise<void> started;
    ASSERT_TRUE(jobs.try_post([&] {
      started.set_value();
      std::this_thread::sleep_for(50ms);
    }));
    started.get_future().wait();
    ASSERT_TRUE(jobs.try_post([&, alive] { ran_second = true; }));
    EXPECT_EQ(alive.use_count(), 2);
  }  // destructor: the running job finishes, the waiting one is destroyed unrun
  EXPECT_FALSE(ran_second.load());
  EXPECT_EQ(alive.use_count(), 1);
}

TEST(StaticFilesIo, CacheHitsAreAnsweredOnTheCallersThreadWithoutTheDisk) {
  TempDir tmp;
  write_file(tmp.path() / "page.html", "v1");
  auto opts = options_for(tmp.path());
  opts.revalidate_after = std::chrono::hours(1);
  StaticFiles files(opts);

  auto first = send(files, "/page.html");  // a miss: read on an I/O thread
  ASSERT_TRUE(first->wait());
  EXPECT_EQ(first->wait()->payload(), "v1");
  EXPECT_NE(first->answered_on(), std::this_thread::get_id());

  // Edited, and made unreadable: within the window the cache answers without looking.
  write_file(tmp.path() / "page.html", "v2, longer");
  fs::last_write_time(tmp.path() / "page.html", fs::last_write_time(tmp.path() / "page.html") + 2s);
  auto hit = send(files, "/page.html");
  ASSERT_TRUE(hit->answered()) << "a hit is answered inside on_request()";
  EXPECT_EQ(hit->answered_on(), std::this_thread::get_id());
  EXPECT_EQ(hit->wait()->payload(), "v1") << "served from the cache within revalidate_after";
  EXPECT_EQ(hit->wait()->payload().data(), first->wait()->payload().data()) << "shared, not copied";
  EXPECT_TRUE(hit->wait()->body.empty());
}

TEST(StaticFilesIo, ExpiredEntriesAreRecheckedOffTheCallersThread) {
  TempDir tmp;
  write_file(tmp.path() / "page.html", "v1");
  auto opts = options_for(tmp.path());
  opts.revalidate_after = 50ms;
  StaticFiles files(opts);
  ASSERT_EQ(answer(files, get("/page.html")).payload(), "v1");
  write_file(tmp.path() / "page.html", "v2");
  fs::last_write_time(tmp.path() / "page.html", fs::last_write_time(tmp.path() / "page.html") + 2s);
  std::this_thread::sleep_for(100ms);
  auto after = send(files, "/page.html");
  const auto res = after->wait();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->payload(), "v2") << "seen once the window is over";
  EXPECT_NE(after->answered_on(), std::this_thread::get_id());
}

TEST(StaticFilesIo, ABlockedOpenHoldsNoCallerAndOtherFilesStillComeFromTheCache) {
  TempDir tmp;
  write_file(tmp.path() / "slow.txt", "slow content");
  write_file(tmp.path() / "fast.txt", "fast content");
  auto opts = options_for(tmp.path());
  opts.revalidate_after = std::chrono::hours(1);
  StaticFiles files(opts);
  ASSERT_EQ(answer(files, get("/fast.txt")).payload(), "fast content");  // cached

  Lease lease(tmp.path() / "slow.txt");
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = send(files, "/slow.txt");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "on_request() returned at once";
  auto fast = send(files, "/fast.txt");
  ASSERT_TRUE(fast->answered()) << "a cached file is answered while the other one's open() blocks";
  EXPECT_EQ(fast->wait()->payload(), "fast content");
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(slow->answered()) << "the lease holds the read (else this test proves nothing)";
  lease.release();
  const auto res = slow->wait();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->payload(), "slow content");
}

TEST(StaticFilesIo, StoppingIsNotHeldByALeasedFile) {
  TempDir tmp;
  write_file(tmp.path() / "slow.txt", "slow content");
  Lease lease(tmp.path() / "slow.txt");
  std::optional<StaticFiles> files(std::in_place, options_for(tmp.path()));
  auto slow = send(*files, "/slow.txt");
  std::this_thread::sleep_for(200ms);  // an I/O thread now waits for the lease to go
  ASSERT_FALSE(slow->answered());
  const auto t0 = std::chrono::steady_clock::now();
  files.reset();  // the server stops: the wait is given up, not sat out (45 s lease-break-time)
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  const auto res = slow->wait(1s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404u);
}

TEST(StaticFilesIo, FifosAndOtherSpecialFilesAre404AtOnce) {
  TempDir tmp;
  ASSERT_EQ(::mkfifo((tmp.path() / "pipe").c_str(), 0644), 0);
  fs::create_symlink(tmp.path() / "pipe", tmp.path() / "pipe-link.html");
  Metrics metrics(1);
  auto opts = options_for(tmp.path());
  opts.metrics = &metrics;
  StaticFiles files(opts);
  for (const auto* target : {"/pipe", "/pipe-link.html"}) {
    SCOPED_TRACE(target);
    auto r = send(files, target);
    const auto res = r->wait(5s);  // a FIFO opened for reading would wait for a writer forever
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404u);
  }
  EXPECT_EQ(metrics.value("socketio_static_refused_total", {{"reason", "not_regular"}}), 2);
}

TEST(StaticFilesIo, QueueBoundGives503AndAbandonedJobsCostNothing) {
  TempDir tmp;
  write_file(tmp.path() / "slow.txt", "slow content");
  write_file(tmp.path() / "a.txt", "a");
  write_file(tmp.path() / "b.txt", "b");
  Metrics metrics(1);
  auto opts = options_for(tmp.path());
  opts.io_threads = 1;
  opts.max_pending = 1;
  opts.metrics = &metrics;
  StaticFiles files(opts);

  Lease lease(tmp.path() / "slow.txt");
  auto slow = send(files, "/slow.txt");  // takes the only I/O thread, blocked in open()
  for (int i = 0; i < 500 && pending_jobs(metrics) != 0; ++i) std::this_thread::sleep_for(10ms);
  auto queued = send(files, "/a.txt");  // the one job allowed to wait
  auto refused = send(files, "/b.txt");
  ASSERT_TRUE(refused->answered()) << "refused at once, not queued";
  EXPECT_EQ(refused->wait()->status, 503u);
  EXPECT_EQ(header(*refused->wait(), "Retry-After"), "1");
  EXPECT_EQ(metrics.value("socketio_static_queue_full_total"), 1);
  EXPECT_EQ(pending_jobs(metrics), 1);

  queued->abort();  // its client left while it waited
  lease.release();
  ASSERT_TRUE(slow->wait());
  EXPECT_EQ(slow->wait()->payload(), "slow content");
  for (int i = 0; i < 500 && metrics.value("socketio_static_abandoned_total") == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(metrics.value("socketio_static_abandoned_total"), 1);
  EXPECT_FALSE(queued->answered()) << "skipped: no read, no answer";
  EXPECT_EQ(metrics.value("socketio_static_file_reads_total"), 1) << "slow.txt only";
  EXPECT_EQ(answer(files, get("/b.txt")).payload(), "b") << "served again once there is room";
}

}  // namespace
}  // namespace socketio::net
