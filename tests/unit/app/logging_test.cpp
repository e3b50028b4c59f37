// --log-format json: one JSON object a line; key=value words become fields.
#include "logging.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

using socketio::app::json_log_line;

TEST(JsonLog, CarriesTimeLevelMessageAndFields) {
  const std::string line =
      json_log_line("2026-01-02T03:04:05.006Z", "info", "socketio-server",
                    "client gone sid=AbC-1_x address=127.0.0.1 reason=\"transport close\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto o = boost::json::parse(line).as_object();
  EXPECT_EQ(o.at("time"), "2026-01-02T03:04:05.006Z");
  EXPECT_EQ(o.at("level"), "info");
  EXPECT_EQ(o.at("message"), "client gone sid=AbC-1_x address=127.0.0.1 reason=\"transport close\"");
  EXPECT_EQ(o.at("sid"), "AbC-1_x");
  EXPECT_EQ(o.at("address"), "127.0.0.1");
  EXPECT_EQ(o.at("reason"), "transport close");
}

TEST(JsonLog, EscapesAndKeepsReservedKeys) {
  const std::string line = json_log_line("t", "warn", "", "bad \"quote\"\nnew line level=fake x=1, y==2");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto o = boost::json::parse(line).as_object();
  EXPECT_EQ(o.at("level"), "warn");  // a message cannot overwrite the reserved keys
  EXPECT_EQ(o.at("x"), "1");
  EXPECT_EQ(o.at("y"), "=2");
  EXPECT_FALSE(o.contains("logger"));
}
