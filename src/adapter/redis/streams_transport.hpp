// The streams transport (--redis-mode streams): `@socket.io/redis-streams-adapter` 0.3.1 under the
// cluster core, so C++ and Node nodes share one stream (streams_codec.hpp has the bytes). Stored
// messages go into the stream with XADD (bounded by the hub's publish queue) and come back, every
// node's, through the hub's XREAD loop (stream_reader.hpp); requests and answers go over pub/sub.
//
// Connection state recovery lives in Redis: a recoverable broadcast is delivered here once stored,
// its entry id as the offset; sessions are `sio:session:<pid>` keys. Beyond the reference, the
// session of a connected socket is saved when it changes (joined, left, data) and kept alive by a
// periodic PEXPIRE, so a client whose node was killed recovers on another node; a disconnect that
// is not recoverable deletes it. A restore reads the missed entries back from the stream, in
// order, and hands them over exactly where this node's own delivery stands (see restore()), so
// that no packet is replayed and delivered live both, or neither. Bounded: the missed bytes held
// by restores in flight (RecoverySettings::max_bytes), and every restore ends by the requests
// timeout. Created by RedisAdapter; the Transport calls may come from any thread.
#pragma once

#include "adapter/redis/redis_transport.hpp"

#include <memory>
#include <optional>

namespace socketio::redis {

std::shared_ptr<RedisTransport> make_streams_transport(std::shared_ptr<RedisHub> hub,
                                                       const std::shared_ptr<cluster::ClusterCore>& core,
                                                       std::optional<RecoverySettings> recovery);

}  // namespace socketio::redis
