// The Prometheus text exposition format (version 0.0.4): pure rendering of metric families, and
// the name rules. No I/O, no registry: socketio::Metrics (include/socketio/metrics.hpp) collects
// the values and calls render(). Any thread.
#pragma once

#include "socketio/metrics.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace socketio::core::prometheus {

struct Sample {
  std::string suffix;  // "" or, for histograms, "_bucket", "_sum", "_count"
  MetricLabels labels;
  double value = 0;
};

struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::counter;
  std::vector<Sample> samples;
};

// Every family once (HELP, TYPE, then its samples), sorted by name; families without samples
// are left out.
std::string render(std::vector<Family> families);

bool valid_metric_name(std::string_view name) noexcept;  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_label_name(std::string_view name) noexcept;   // [a-zA-Z_][a-zA-Z0-9_]*, not __*
// Label values: backslash, double quote and line feed escaped. HELP: backslash and line feed.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// Shortest round-trip form; integers without exponent or point; +Inf, -Inf, NaN.
std::string format_value(double value);

}  // namespace socketio::core::prometheus
