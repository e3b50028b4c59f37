// socketio::Server refuses options out of range at construction (std::invalid_argument), before
// anything listens: here the permessage-deflate ranges zlib imposes.
#include "socketio/server.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

TEST(ServerOptions, PerMessageDeflateRanges) {
  const auto with = [](const std::function<void(socketio::PerMessageDeflate&)>& change) {
    socketio::ServerOptions o;
    o.threads = 1;
    o.per_message_deflate.enabled = true;
    change(o.per_message_deflate);
    socketio::Server io(o);
  };
  EXPECT_NO_THROW(with([](auto&) {}));
  EXPECT_NO_THROW(with([](auto& d) {
    d.server_max_window_bits = 9;
    d.client_max_window_bits = 8;
    d.mem_level = 1;
    d.level = 0;
  }));
  EXPECT_THROW(with([](auto& d) { d.server_max_window_bits = 8; }), std::invalid_argument);
  EXPECT_THROW(with([](auto& d) { d.server_max_window_bits = 16; }), std::invalid_argument);
  EXPECT_THROW(with([](auto& d) { d.client_max_window_bits = 7; }), std::invalid_argument);
  EXPECT_THROW(with([](auto& d) { d.mem_level = 10; }), std::invalid_argument);
  EXPECT_THROW(with([](auto& d) { d.level = -1; }), std::invalid_argument);
}
