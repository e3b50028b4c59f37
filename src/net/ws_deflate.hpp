// permessage-deflate payloads (RFC 7692 §7.2) with zlib: raw deflate, one message at a time.
// Pure (no I/O); a Deflater / Inflater / DeflateShard is used by one thread at a time (the shard
// that owns it). The WebSocket session (websocket.cpp) negotiates (ws_extensions.hpp) and then
// compresses frames it queues and inflates messages it receives with these; fuzzed by
// tests/fuzz/ws_inflate_fuzz.cpp.
//
// Memory: every zlib allocation is counted in a gauge (socketio_ws_zlib_memory_bytes), so what
// the streams hold is measured, not estimated. zlib's own figures: a deflate stream takes
// 2^(window_bits+2) + 2^(mem_level+9) bytes (256 KiB at 15/8), an inflate stream 2^window_bits
// + ~7 KiB. By default no connection holds either: each shard holds one deflate stream per window
// size in use and one inflate stream (DeflateShard), and connections only borrow them for one
// message; docs/reliability.md.
#pragma once

#include "core/bytes.hpp"
#include "socketio/metrics.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace socketio::net::ws {

// Counts what zlib allocates for one stream (and adds it to a gauge). Internal to ws_deflate.cpp;
// declared here so that the streams can hold one by value.
struct ZlibAccount {
  Metrics::Gauge gauge;
  std::size_t bytes = 0;
};

class Deflater {
 public:
  // window_bits 9..15, mem_level 1..9, level 0..9. Allocates nothing until the first compress().
  Deflater(int window_bits, int mem_level, int level, Metrics::Gauge memory = {});
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses one message (the pieces, in order) into out, replacing its contents: raw deflate
  // ended by a sync flush whose 00 00 ff ff tail is removed (RFC 7692 §7.2.1). keep_context
  // false: the next message starts from an empty window (no context takeover). False if zlib
  // failed (out is then unspecified; the stream is reset).
  bool compress(std::span<const std::string_view> pieces, std::string& out, bool keep_context);

  int window_bits() const noexcept { return window_bits_; }
  std::size_t memory() const noexcept { return account_.bytes; }

 private:
  struct Stream;
  std::unique_ptr<Stream> z_;
  ZlibAccount account_;
  int window_bits_, mem_level_, level_;
};

enum class InflateResult {
  ok,
  too_big,   // more than the limit would come out: fail with 1009
  bad_data,  // not a valid deflate stream, or cut short: fail with 1007
};

class Inflater {
 public:
  // window_bits 8..15. Allocates nothing until the first inflate().
  explicit Inflater(int window_bits, Metrics::Gauge memory = {});
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates one whole message (the payloads of all its frames, concatenated) into out,
  // replacing its contents. Output beyond `limit` bytes is never produced: the first byte over
  // it stops zlib and gives too_big, so a small "zip bomb" costs at most limit bytes of memory
  // and the time to produce them. keep_context false: reset after the message. After too_big or
  // bad_data the stream is reset (the connection is failed anyway).
  InflateResult inflate(std::string_view in, std::size_t limit, std::string& out, bool keep_context);

  std::size_t memory() const noexcept { return account_.bytes; }

 private:
  struct Stream;
  std::unique_ptr<Stream> z_;
  ZlibAccount account_;
  int window_bits_;
};

// What one shard shares between its connections when there is no context takeover: a deflate
// stream per window size, an inflate stream, the output buffers, and the compressed form of the
// messages queued in the shard's current run of handlers, so that the recipients of one
// broadcast share one compression (each frame of a broadcast has the same body pointer). The
// session that first fills the cache schedules clear() at the end of the run (needs_clear()), so
// nothing is kept beyond it.
class DeflateShard {
 public:
  DeflateShard(int mem_level, int level, Metrics::Gauge memory = {});
  ~DeflateShard();
  DeflateShard(const DeflateShard&) = delete;
  DeflateShard& operator=(const DeflateShard&) = delete;

  struct Compressed {
    core::SharedBytes bytes;  // null: not smaller than the message, send it as it is
    bool reused = false;      // found in the cache: compressed for another recipient
    bool failed = false;      // zlib failed: send it as it is
  };
  // The message `head` + `body` compressed without context with a window_bits window; body may
  // be null (then nothing is cached).
  Compressed compress(std::string_view head, const core::SharedBytes& body, int window_bits);
  // True once after the cache got its first entry since the last clear().
  bool needs_clear() noexcept;
  void clear();

  Inflater& inflater() { return inflater_; }
  // Where inflated messages go (given back to the system after a large one: shrink()).
  std::string& scratch() { return scratch_; }
  void shrink();

 private:
  struct Entry {
    core::SharedBytes body;
    std::array<char, 2> head{};
    std::uint8_t head_len = 0;
    int window_bits = 0;
    core::SharedBytes out;
  };
  // Enough for a Socket.IO packet with its attachments (max_attachments is 10 by default): its
  // frames of at least the threshold are looked up once per recipient, in turn.
  static constexpr std::size_t kCacheSize = 16;
  std::array<Entry, kCacheSize> cache_;
  std::size_t next_ = 0, used_ = 0;
  bool clear_scheduled_ = false;
  std::array<std::unique_ptr<Deflater>, 16> deflaters_;  // by window bits, made on first use
  Inflater inflater_;
  std::string out_, scratch_;
  Metrics::Gauge memory_;
  int mem_level_, level_;
};

}  // namespace socketio::net::ws
