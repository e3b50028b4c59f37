// The binary's logging set-up: spdlog to stderr, as text ("[time] [level] message") or as JSON
// (--log-format json: one object a line, {"time","level","message", fields...}). Fields are the
// key=value words of a message (sid=..., address=..., reason="transport close"): the same log
// call reads well as text and gives a log pipeline structured fields. Call once from main()
// before any other thread logs.
#pragma once

#include <string>
#include <string_view>

namespace socketio::app {

void init_logging(const std::string& level, const std::string& format);

// The JSON line for one message (without the newline); exposed for the unit test.
std::string json_log_line(std::string_view time, std::string_view level, std::string_view logger,
                          std::string_view message);

}  // namespace socketio::app
