#include "logging.hpp"

#include <spdlog/details/fmt_helper.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <vector>

namespace socketio::app {

namespace {

bool field_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// key=value and key="quoted value" words of a message, in order.
std::vector<std::pair<std::string, std::string>> fields_of(std::string_view m) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < m.size()) {
    while (i < m.size() && m[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < m.size() && field_name_char(m[i])) ++i;
    if (i > start && i < m.size() && m[i] == '=' && (start == 0 || m[start - 1] == ' ')) {
      std::string key(m.substr(start, i - start));
      ++i;
      std::string value;
      if (i < m.size() && m[i] == '"') {
        const std::size_t close = m.find('"', i + 1);
        const std::size_t end = close == std::string_view::npos ? m.size() : close;
        value = std::string(m.substr(i + 1, end - i - 1));
        i = end == m.size() ? end : end + 1;
      } else {
        const std::size_t end = std::min(m.find(' ', i), m.size());
        value = std::string(m.substr(i, end - i));
        if (!value.empty() && (value.back() == ',' || value.back() == ';')) value.pop_back();
        i = end;
      }
      // The reserved keys stay what they are.
      if (key != "time" && key != "level" && key != "message" && key != "logger")
        out.emplace_back(std::move(key), std::move(value));
      continue;
    }
    while (i < m.size() && m[i] != ' ') ++i;
  }
  return out;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = spdlog::log_clock::to_time_t(msg.time);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char time[40];
    const std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%03dZ", static_cast<int>(ms));
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line = json_log_line(time, std::string_view(level.data(), level.size()),
                                           std::string_view(msg.logger_name.data(), msg.logger_name.size()),
                                           std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

std::string json_log_line(std::string_view time, std::string_view level, std::string_view logger,
                          std::string_view message) {
  boost::json::object o;
  o["time"] = time;
  o["level"] = level;
  o["message"] = message;
  if (!logger.empty()) o["logger"] = logger;
  for (auto& [k, v] : fields_of(message)) o[k] = v;
  // serialize() escapes control characters and invalid UTF-8 stays one line.
  return boost::json::serialize(o);
}

void init_logging(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_color_mt("socketio-server");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  }
  spdlog::set_default_logger(std::move(logger));
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace socketio::app
