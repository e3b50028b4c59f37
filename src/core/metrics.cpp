// socketio::Metrics (include/socketio/metrics.hpp): per-shard slots, registration, scrape.
#include "socketio/metrics.hpp"

#include "core/prometheus.hpp"
#include "core/this_shard.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

namespace socketio {

namespace core {
namespace {
thread_local std::size_t t_this_shard = kNoShard;
}
std::size_t this_shard() noexcept {
  return t_this_shard;
}
void set_this_shard(std::size_t shard) noexcept {
  t_this_shard = shard;
}
}  // namespace core

namespace {

struct Series {
  std::string family;
  MetricLabels labels;
  std::uint32_t slot = 0;
  const std::vector<double>* bounds = nullptr;  // histograms
};

struct FamilyInfo {
  std::string help;
  MetricType type;
};

using Slots = std::unique_ptr<std::atomic<std::int64_t>[]>;

}  // namespace

struct Metrics::Storage {
  explicit Storage(std::size_t n) : shards(n) {
    // One array per shard plus the shared one, each allocated on its own (and so on its own
    // cache lines): a shard's writes never invalidate a line another writer uses.
    for (std::size_t i = 0; i <= n; ++i) {
      slots.emplace_back(new std::atomic<std::int64_t>[kMaxSeries]);
      for (std::size_t j = 0; j < kMaxSeries; ++j) slots.back()[j].store(0, std::memory_order_relaxed);
    }
  }

  void add(std::uint32_t slot, std::int64_t n) noexcept {
    const std::size_t s = core::this_shard();
    if (s < shards) {
      // The only writer of this slot: no read-modify-write instruction needed.
      auto& a = slots[s][slot];
      a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      slots[shards][slot].fetch_add(n, std::memory_order_relaxed);
    }
  }

  std::int64_t sum(std::uint32_t slot) const noexcept {
    std::int64_t total = 0;
    for (const auto& a : slots) total += a[slot].load(std::memory_order_relaxed);
    return total;
  }

  std::size_t shards;
  std::vector<Slots> slots;
  mutable std::mutex mutex;  // registration and scrape; never taken by add()
  std::uint32_t used = 0;
  std::map<std::string, FamilyInfo, std::less<>> families;
  std::vector<Series> series;
  std::vector<std::unique_ptr<std::vector<double>>> bounds;  // stable addresses for the handles
  std::vector<std::function<void(MetricsSink&)>> collectors;
};

Metrics::Metrics(std::size_t shards) : storage_(std::make_unique<Storage>(shards)) {}
Metrics::~Metrics() = default;

std::size_t Metrics::shards() const noexcept {
  return storage_->shards;
}

void Metrics::Counter::inc(std::uint64_t n) const noexcept {
  if (storage_) storage_->add(slot_, static_cast<std::int64_t>(n));
}

void Metrics::Gauge::add(std::int64_t n) const noexcept {
  if (storage_) storage_->add(slot_, n);
}

void Metrics::Histogram::observe(double seconds) const noexcept {
  if (!storage_) return;
  if (!(seconds >= 0)) seconds = 0;  // NaN and negatives (a clock step) count as 0
  std::uint32_t bucket = 0;
  while (bucket < bounds_->size() && seconds > (*bounds_)[bucket]) ++bucket;
  storage_->add(first_ + bucket, 1);
  storage_->add(first_ + static_cast<std::uint32_t>(bounds_->size()) + 1,
                static_cast<std::int64_t>(std::llround(std::min(seconds, 9.0e9) * 1e9)));
}

std::uint32_t Metrics::register_series(std::string_view name, std::string_view help, MetricType type,
                                       const MetricLabels& labels, std::size_t nslots,
                                       std::vector<double> buckets, const std::vector<double>** bounds) {
  if (!core::prometheus::valid_metric_name(name))
    throw std::invalid_argument("metrics: bad metric name '" + std::string(name) + "'");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!core::prometheus::valid_label_name(labels[i].first) ||
        (type == MetricType::histogram && labels[i].first == "le"))
      throw std::invalid_argument("metrics: bad label name '" + labels[i].first + "' in " +
                                  std::string(name));
    for (std::size_t j = 0; j < i; ++j)
      if (labels[j].first == labels[i].first)
        throw std::invalid_argument("metrics: label '" + labels[i].first + "' twice in " + std::string(name));
  }
  Storage& st = *storage_;
  std::lock_guard lock(st.mutex);
  auto fam = st.families.find(name);
  if (fam == st.families.end()) {
    fam = st.families.emplace(std::string(name), FamilyInfo{std::string(help), type}).first;
  } else if (fam->second.type != type) {
    throw std::invalid_argument("metrics: " + std::string(name) + " registered with another type");
  }
  for (const Series& s : st.series) {
    if (s.family == name && s.labels == labels) {
      if (bounds) *bounds = s.bounds;
      return s.slot;
    }
  }
  if (st.used + nslots > kMaxSeries) throw std::length_error("metrics: too many series");
  Series s{std::string(name), labels, st.used, nullptr};
  if (type == MetricType::histogram) {
    st.bounds.push_back(std::make_unique<std::vector<double>>(std::move(buckets)));
    s.bounds = st.bounds.back().get();
    if (bounds) *bounds = s.bounds;
  }
  st.used += static_cast<std::uint32_t>(nslots);
  st.series.push_back(std::move(s));
  return st.series.back().slot;
}

Metrics::Counter Metrics::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return Counter(storage_.get(), register_series(name, help, MetricType::counter, labels, 1, {}, nullptr));
}

Metrics::Gauge Metrics::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return Gauge(storage_.get(), register_series(name, help, MetricType::gauge, labels, 1, {}, nullptr));
}

Metrics::Histogram Metrics::histogram(std::string_view name, std::string_view help,
                                      std::vector<double> buckets, const MetricLabels& labels) {
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
      throw std::invalid_argument("metrics: " + std::string(name) + ": buckets must be finite and ascending");
  }
  const std::size_t nslots = buckets.size() + 2;  // buckets, +Inf, sum
  const std::vector<double>* bounds = nullptr;
  const auto first =
      register_series(name, help, MetricType::histogram, labels, nslots, std::move(buckets), &bounds);
  return Histogram(storage_.get(), first, bounds);
}

void Metrics::add_collector(std::function<void(MetricsSink&)> collect) {
  std::lock_guard lock(storage_->mutex);
  storage_->collectors.push_back(std::move(collect));
}

namespace {

class FamilyBuilder final : public MetricsSink {
 public:
  core::prometheus::Family& family(std::string_view name, std::string_view help, MetricType type) {
    auto it = index_.find(name);
    if (it != index_.end()) return families_[it->second];
    index_.emplace(std::string(name), families_.size());
    families_.push_back({std::string(name), std::string(help), type, {}});
    return families_.back();
  }
  void counter(std::string_view name, std::string_view help, const MetricLabels& labels,
               double value) override {
    add(name, help, MetricType::counter, labels, value);
  }
  void gauge(std::string_view name, std::string_view help, const MetricLabels& labels,
             double value) override {
    add(name, help, MetricType::gauge, labels, value);
  }
  std::vector<core::prometheus::Family> take() { return std::move(families_); }

 private:
  void add(std::string_view name, std::string_view help, MetricType type, const MetricLabels& labels,
           double value) {
    // A collector's bad name would make the whole scrape unparsable: leave that sample out.
    if (!core::prometheus::valid_metric_name(name)) return;
    for (const auto& l : labels)
      if (!core::prometheus::valid_label_name(l.first)) return;
    auto& f = family(name, help, type);
    if (f.type != type) return;
    f.samples.push_back({"", labels, value});
  }
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<core::prometheus::Family> families_;
};

}  // namespace

std::string Metrics::scrape() const {
  const Storage& st = *storage_;
  FamilyBuilder out;
  std::vector<std::function<void(MetricsSink&)>> collectors;
  {
    std::lock_guard lock(st.mutex);
    for (const Series& s : st.series) {
      const FamilyInfo& info = st.families.find(s.family)->second;
      auto& f = out.family(s.family, info.help, info.type);
      if (info.type != MetricType::histogram) {
        f.samples.push_back({"", s.labels, static_cast<double>(st.sum(s.slot))});
        continue;
      }
      // Buckets are stored apart and made cumulative here; the count is their total, so a
      // scrape that races an observation still reads a consistent histogram.
      std::int64_t cumulative = 0;
      const auto& b = *s.bounds;
      for (std::size_t i = 0; i <= b.size(); ++i) {
        cumulative += st.sum(s.slot + static_cast<std::uint32_t>(i));
        MetricLabels l = s.labels;
        l.emplace_back("le", i < b.size() ? core::prometheus::format_value(b[i]) : "+Inf");
        f.samples.push_back({"_bucket", std::move(l), static_cast<double>(cumulative)});
      }
      const auto sum_ns = st.sum(s.slot + static_cast<std::uint32_t>(b.size()) + 1);
      f.samples.push_back({"_sum", s.labels, static_cast<double>(sum_ns) / 1e9});
      f.samples.push_back({"_count", s.labels, static_cast<double>(cumulative)});
    }
    collectors = st.collectors;
  }
  // Collectors run unlocked: they may read other registries or take their own locks.
  for (const auto& c : collectors) c(out);
  return core::prometheus::render(out.take());
}

double Metrics::value(std::string_view name, const MetricLabels& labels) const {
  const Storage& st = *storage_;
  std::lock_guard lock(st.mutex);
  for (const Series& s : st.series)
    if (s.family == name && s.labels == labels && !s.bounds) return static_cast<double>(st.sum(s.slot));
  return 0;
}

}  // namespace socketio
