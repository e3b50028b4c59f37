// socketio::Metrics: the server's counters, gauges and histograms, rendered in the Prometheus
// text format at GET /metrics. One registry per socketio::Server (Server::metrics()); the
// library's layers and the application register their series in it.
//
// Counting stays per shard: each shard thread owns one slot per series and is its only writer
// (a relaxed load + store, which compiles to a plain add: no lock prefix, no cache line shared
// with another writer); a scrape sums the slots of every shard with relaxed loads. The slots are
// std::atomic only so that the scrape's read of another thread's slot is not a data race (TSan).
// Threads that are not shards (the Redis thread, main, a user's thread) share one extra slot per
// series and add to it with an atomic fetch_add: correct from any thread, meant for rare events.
//
// How a layer adds a counter (any layer: core is linked by all):
//   1. At construction / start-up (any thread, before or after listen), register the series and
//      keep the handle; registering the same name + labels again returns the same series:
//        Metrics::Counter drops_ = metrics.counter("socketio_packets_dropped_total",
//            "Packets not sent to a client", {{"reason", "volatile"}});
//      Names follow Prometheus conventions: the socketio_ prefix, base units (_bytes, _seconds),
//      counters end in _total. A name with different labels is another series of the same family
//      (the help and type of the first registration are kept).
//   2. On the hot path: drops_.inc(); (or .inc(n); gauges: .add(n) / .sub(n)). A handle that was
//      default-constructed does nothing, so code without a registry (unit tests) needs no checks.
//   3. Values that already exist elsewhere (a size, a per-shard reading) are better read at
//      scrape time than counted twice: add_collector() runs a function on the scraping thread
//      that reports samples into a MetricsSink. It must be thread-safe against the shards.
//   4. List the new series in docs/operations.md (the metrics table).
// Registration is limited to kMaxSeries slots (a start-up error beyond: series must not be
// created per client, room or message: use bounded label sets).
//
// Thread-safety: everything here may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace socketio {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { counter, gauge, histogram };

// What a collector reports at scrape time.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void counter(std::string_view name, std::string_view help, const MetricLabels& labels,
                       double value) = 0;
  virtual void gauge(std::string_view name, std::string_view help, const MetricLabels& labels,
                     double value) = 0;
};

class Metrics {
  struct Storage;

 public:
  static constexpr std::size_t kMaxSeries = 2048;

  // shards: how many shard threads write (slots 0..shards-1, see the shard index of
  // net::ShardPool); any other thread uses the shared slot.
  explicit Metrics(std::size_t shards);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  class Counter {
   public:
    Counter() = default;
    void inc(std::uint64_t n = 1) const noexcept;

   private:
    friend class Metrics;
    Counter(Storage* s, std::uint32_t slot) : storage_(s), slot_(slot) {}
    Storage* storage_ = nullptr;
    std::uint32_t slot_ = 0;
  };

  // A gauge that several shards move (each adds and subtracts its own part; the scrape sums).
  class Gauge {
   public:
    Gauge() = default;
    void add(std::int64_t n) const noexcept;
    void sub(std::int64_t n) const noexcept { add(-n); }
    void inc() const noexcept { add(1); }
    void dec() const noexcept { add(-1); }

   private:
    friend class Metrics;
    Gauge(Storage* s, std::uint32_t slot) : storage_(s), slot_(slot) {}
    Storage* storage_ = nullptr;
    std::uint32_t slot_ = 0;
  };

  // Observations in seconds; buckets are upper bounds in seconds (ascending; +Inf is implied).
  class Histogram {
   public:
    Histogram() = default;
    void observe(double seconds) const noexcept;

   private:
    friend class Metrics;
    Histogram(Storage* s, std::uint32_t first, const std::vector<double>* bounds)
        : storage_(s), first_(first), bounds_(bounds) {}
    Storage* storage_ = nullptr;
    std::uint32_t first_ = 0;  // bucket slots, then the +Inf bucket, then the sum (nanoseconds)
    const std::vector<double>* bounds_ = nullptr;
  };

  // Throw std::invalid_argument for a bad name or label, std::length_error past kMaxSeries.
  Counter counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Gauge gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Histogram histogram(std::string_view name, std::string_view help, std::vector<double> buckets,
                      const MetricLabels& labels = {});

  void add_collector(std::function<void(MetricsSink&)> collect);

  // The text exposition format (version 0.0.4), every family once, sorted by name.
  std::string scrape() const;
  // The summed value of one counter or gauge series (tests, health); 0 when unknown.
  double value(std::string_view name, const MetricLabels& labels = {}) const;

  std::size_t shards() const noexcept;

 private:
  std::uint32_t register_series(std::string_view name, std::string_view help, MetricType type,
                                const MetricLabels& labels, std::size_t slots, std::vector<double> buckets,
                                const std::vector<double>** bounds);
  std::unique_ptr<Storage> storage_;
};

}  // namespace socketio
