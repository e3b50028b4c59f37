// A small HdrHistogram-like latency histogram: values (nanoseconds) fall into log-linear buckets,
// 64 sub-buckets per power of two (about 1.6 % precision), up to 2^42 ns (~73 minutes). One per
// worker thread (no locks); merged at the end. Serialisable (sparse) so that the processes of a
// multi-process run can merge theirs.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxBits = 42;
  static constexpr std::size_t kBuckets =
      static_cast<std::size_t>((kMaxBits - kSubBits + 1) * (kSub / 2) + kSub / 2);

  Histogram() : counts_(kBuckets, 0) {}

  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }

  void merge(const Histogram& o) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  // The value at quantile q (0..1): the upper bound of the bucket holding it.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }

  // "i:c,i:c,..." for the non-empty buckets, then ";max".
  std::string serialize() const {
    std::string s;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      if (counts_[i] == 0) continue;
      s += std::to_string(i) + ':' + std::to_string(counts_[i]) + ',';
    }
    s += ';' + std::to_string(max_);
    return s;
  }

  void merge_serialized(const std::string& s) {
    std::size_t pos = 0;
    while (pos < s.size() && s[pos] != ';') {
      const std::size_t colon = s.find(':', pos);
      const std::size_t comma = s.find(',', colon);
      if (colon == std::string::npos || comma == std::string::npos) return;
      const std::size_t i = std::stoull(s.substr(pos, colon - pos));
      const std::uint64_t c = std::stoull(s.substr(colon + 1, comma - colon - 1));
      if (i < kBuckets) {
        counts_[i] += c;
        total_ += c;
      }
      pos = comma + 1;
    }
    if (pos < s.size()) max_ = std::max<std::uint64_t>(max_, std::stoull(s.substr(pos + 1)));
  }

 private:
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int msb = std::bit_width(v) - 1;  // >= kSubBits
    if (msb >= kMaxBits) return kBuckets - 1;
    const int shift = msb - kSubBits + 1;
    const auto sub = static_cast<std::size_t>((v >> shift) & (kSub / 2 - 1));
    return static_cast<std::size_t>(shift) * (kSub / 2) + kSub / 2 + sub;
  }
  static std::uint64_t upper(std::size_t i) noexcept {
    if (i < kSub) return i;
    const std::size_t shift = (i - kSub / 2) / (kSub / 2);
    const std::size_t sub = (i - kSub / 2) % (kSub / 2);
    return ((static_cast<std::uint64_t>(kSub / 2 + sub) + 1) << shift) - 1;
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace bench
