// The shard index of the calling thread: set by net::ShardPool on its worker threads, read by
// the per-shard counters (socketio::Metrics) and ShardPool::current(). Kept in core so that the
// layers below net can find their shard's slot without Asio. Any thread.
#pragma once

#include <cstddef>

namespace socketio::core {

inline constexpr std::size_t kNoShard = static_cast<std::size_t>(-1);

std::size_t this_shard() noexcept;                // kNoShard outside a shard thread
void set_this_shard(std::size_t shard) noexcept;  // ShardPool only

}  // namespace socketio::core
