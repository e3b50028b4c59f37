// Shared immutable byte buffers: the unit a broadcast is encoded into once and then queued
// to every recipient. Immutable after construction, so any thread may read one; the refcount
// is the only shared state.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace socketio::core {

using SharedBytes = std::shared_ptr<const std::string>;

inline SharedBytes make_bytes(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}
inline SharedBytes make_bytes(std::string_view s) {
  return std::make_shared<const std::string>(s);
}

}  // namespace socketio::core
