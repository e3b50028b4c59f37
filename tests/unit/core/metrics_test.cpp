// socketio::Metrics and the Prometheus text rendering (src/core/prometheus.*): names, escaping,
// values, per-shard summing, histograms, collectors.
#include "socketio/metrics.hpp"
#include "core/prometheus.hpp"
#include "core/this_shard.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace prom = socketio::core::prometheus;
using socketio::Metrics;
using socketio::MetricType;

TEST(Prometheus, NamesFollowTheDataModel) {
  EXPECT_TRUE(prom::valid_metric_name("socketio_connected_clients"));
  EXPECT_TRUE(prom::valid_metric_name("a:b_c9"));
  EXPECT_FALSE(prom::valid_metric_name(""));
  EXPECT_FALSE(prom::valid_metric_name("9abc"));
  EXPECT_FALSE(prom::valid_metric_name("a-b"));
  EXPECT_FALSE(prom::valid_metric_name("a b"));
  EXPECT_TRUE(prom::valid_label_name("reason"));
  EXPECT_FALSE(prom::valid_label_name("__reserved"));
  EXPECT_FALSE(prom::valid_label_name("a:b"));
  EXPECT_FALSE(prom::valid_label_name("1a"));
}

TEST(Prometheus, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(prom::escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(prom::escape_help("x \"y\" \\ \n"), "x \"y\" \\\\ \\n");
}

TEST(Prometheus, FormatsValues) {
  EXPECT_EQ(prom::format_value(0), "0");
  EXPECT_EQ(prom::format_value(12345678901234.0), "12345678901234");
  EXPECT_EQ(prom::format_value(-3), "-3");
  EXPECT_EQ(prom::format_value(0.005), "0.005");
  EXPECT_EQ(prom::format_value(2.5), "2.5");
  EXPECT_EQ(prom::format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(prom::format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(prom::format_value(std::nan("")), "NaN");
}

TEST(Prometheus, RendersFamiliesSortedOnceEach) {
  std::vector<prom::Family> f;
  f.push_back({"z_total", "Z things", MetricType::counter, {{"", {{"reason", "a\"b"}}, 2}}});
  f.push_back({"a_gauge", "A\nline", MetricType::gauge, {{"", {}, 1.5}, {"", {{"k", "v"}}, 3}}});
  f.push_back({"empty", "none", MetricType::gauge, {}});
  EXPECT_EQ(prom::render(f),
            "# HELP a_gauge A\\nline\n"
            "# TYPE a_gauge gauge\n"
            "a_gauge 1.5\n"
            "a_gauge{k=\"v\"} 3\n"
            "# HELP z_total Z things\n"
            "# TYPE z_total counter\n"
            "z_total{reason=\"a\\\"b\"} 2\n");
}

TEST(Metrics, RejectsBadNamesAndTooManySeries) {
  Metrics m(1);
  EXPECT_THROW(m.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(m.counter("ok_total", "x", {{"bad-label", "v"}}), std::invalid_argument);
  EXPECT_THROW(m.counter("ok_total", "x", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  EXPECT_THROW(m.histogram("h_seconds", "x", {1, 0.5}), std::invalid_argument);
  m.counter("typed", "x");
  EXPECT_THROW(m.gauge("typed", "x"), std::invalid_argument);
  for (std::size_t i = 1; i < Metrics::kMaxSeries; ++i)
    m.counter("many_total", "x", {{"i", std::to_string(i)}});
  EXPECT_THROW(m.counter("one_more_total", "x"), std::length_error);
}

TEST(Metrics, SameSeriesTwiceIsOneSeries) {
  Metrics m(2);
  auto a = m.counter("x_total", "X", {{"reason", "r"}});
  auto b = m.counter("x_total", "X", {{"reason", "r"}});
  a.inc();
  b.inc(2);
  EXPECT_EQ(m.value("x_total", {{"reason", "r"}}), 3);
  EXPECT_EQ(m.value("x_total", {{"reason", "other"}}), 0);
}

TEST(Metrics, DefaultHandlesDoNothing) {
  Metrics::Counter c;
  Metrics::Gauge g;
  Metrics::Histogram h;
  c.inc();
  g.add(5);
  h.observe(1);
  SUCCEED();
}

// Shard threads write their own slots (plain load + store); other threads share an atomic
// slot. Run under TSan (build-tsan) this is also the race check of the scheme.
TEST(Metrics, SumsEveryShardAndOtherThreads) {
  constexpr std::size_t kShards = 4;
  constexpr int kPerThread = 100'000;
  Metrics m(kShards);
  auto c = m.counter("events_total", "events");
  auto g = m.gauge("open", "open");
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    double last = 0;
    while (!stop.load()) {
      const double v = m.value("events_total");
      EXPECT_GE(v, last);  // a counter never goes back
      last = v;
      (void)m.scrape();
    }
  });
  for (std::size_t s = 0; s < kShards + 2; ++s) {
    threads.emplace_back([&, s] {
      if (s < kShards) socketio::core::set_this_shard(s);  // the last two: not shards
      for (int i = 0; i < kPerThread; ++i) {
        c.inc();
        g.inc();
        if (i % 2) g.dec();
      }
      socketio::core::set_this_shard(socketio::core::kNoShard);
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  scraper.join();
  EXPECT_EQ(m.value("events_total"), double(kPerThread) * (kShards + 2));
  EXPECT_EQ(m.value("open"), double(kPerThread / 2) * (kShards + 2));
}

TEST(Metrics, HistogramIsCumulativeWithSumAndCount) {
  Metrics m(1);
  auto h = m.histogram("req_seconds", "latency", {0.01, 0.1, 1}, {{"op", "fetch"}});
  h.observe(0.005);
  h.observe(0.05);
  h.observe(0.05);
  h.observe(5);
  h.observe(-1);  // a clock step: counted as 0
  const std::string text = m.scrape();
  EXPECT_NE(text.find("# TYPE req_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("req_seconds_bucket{op=\"fetch\",le=\"0.01\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("req_seconds_bucket{op=\"fetch\",le=\"0.1\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("req_seconds_bucket{op=\"fetch\",le=\"1\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("req_seconds_bucket{op=\"fetch\",le=\"+Inf\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("req_seconds_sum{op=\"fetch\"} 5.105\n"), std::string::npos) << text;
  EXPECT_NE(text.find("req_seconds_count{op=\"fetch\"} 5\n"), std::string::npos) << text;
}

TEST(Metrics, CollectorsJoinTheirFamilies) {
  Metrics m(1);
  m.counter("conn_total", "connections", {{"transport", "polling"}}).inc(2);
  m.add_collector([](socketio::MetricsSink& s) {
    s.counter("conn_total", "ignored help", {{"transport", "websocket"}}, 7);
    s.gauge("lag_seconds", "lag", {{"shard", "0"}}, 0.25);
    s.gauge("bad name", "dropped", {}, 1);       // invalid: left out, scrape stays valid
    s.gauge("conn_total", "wrong type", {}, 1);  // type clash: left out
  });
  EXPECT_EQ(m.scrape(),
            "# HELP conn_total connections\n"
            "# TYPE conn_total counter\n"
            "conn_total{transport=\"polling\"} 2\n"
            "conn_total{transport=\"websocket\"} 7\n"
            "# HELP lag_seconds lag\n"
            "# TYPE lag_seconds gauge\n"
            "lag_seconds{shard=\"0\"} 0.25\n");
}
