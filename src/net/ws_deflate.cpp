#include "net/ws_deflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace socketio::net::ws {

namespace {

constexpr std::size_t kAllocHeader = 16;  // keeps zlib's blocks 16-byte aligned
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
// Inflated output grows from this, doubling, up to the limit (+1, to see a byte over it).
constexpr std::size_t kInitialOutput = 4096;
// The shard's scratch buffers are given back when a message left them larger than this.
constexpr std::size_t kKeepScratch = 64 * 1024;

// zlib's allocator hooks: each block carries its size so that zfree can subtract it.
voidpf counted_alloc(voidpf opaque, uInt items, uInt size) {
  auto* account = static_cast<ZlibAccount*>(opaque);
  const std::size_t n = static_cast<std::size_t>(items) * size;
  void* p = std::malloc(n + kAllocHeader);
  if (p == nullptr) return Z_NULL;
  std::memcpy(p, &n, sizeof n);
  account->bytes += n;
  account->gauge.add(static_cast<std::int64_t>(n));
  return static_cast<char*>(p) + kAllocHeader;
}

void counted_free(voidpf opaque, voidpf address) {
  if (address == Z_NULL) return;
  auto* account = static_cast<ZlibAccount*>(opaque);
  char* base = static_cast<char*>(address) - kAllocHeader;
  std::size_t n = 0;
  std::memcpy(&n, base, sizeof n);
  account->bytes -= n;
  account->gauge.sub(static_cast<std::int64_t>(n));
  std::free(base);
}

void prepare(z_stream& z, ZlibAccount& account) {
  std::memset(&z, 0, sizeof z);
  z.zalloc = counted_alloc;
  z.zfree = counted_free;
  z.opaque = &account;
}

Bytef* bytes(std::string_view s) {
  return reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
}

// out.resize(n) keeping the first `keep` bytes, with a capacity of exactly n when it must grow:
// std::string's own growth doubles, which would let a message near the limit hold twice it.
void grow_exact(std::string& out, std::size_t keep, std::size_t n) {
  if (n <= out.capacity()) {
    out.resize(n);
    return;
  }
  std::string bigger;
  bigger.reserve(n);
  bigger.assign(out.data(), keep);
  bigger.resize(n);
  out.swap(bigger);
}

}  // namespace

// --- Deflater ----------------------------------------------------------------------------------

struct Deflater::Stream {
  z_stream z;
};

Deflater::Deflater(int window_bits, int mem_level, int level, Metrics::Gauge memory)
    : window_bits_(window_bits), mem_level_(mem_level), level_(level) {
  account_.gauge = memory;
}

Deflater::~Deflater() {
  if (z_) deflateEnd(&z_->z);
}

bool Deflater::compress(std::span<const std::string_view> pieces, std::string& out, bool keep_context) {
  if (!z_) {
    auto s = std::make_unique<Stream>();
    prepare(s->z, account_);
    if (deflateInit2(&s->z, level_, Z_DEFLATED, -window_bits_, mem_level_, Z_DEFAULT_STRATEGY) != Z_OK)
      return false;
    z_ = std::move(s);
  }
  z_stream& z = z_->z;
  std::size_t total = 0;
  for (auto p : pieces) total += p.size();
  // deflateBound covers one whole stream; a sync flush adds at most a few bytes more (an empty
  // stored block per call and the bits left over). The loop below grows the buffer anyway.
  out.resize(deflateBound(&z, static_cast<uLong>(total)) + 16 + 6 * pieces.size());
  std::size_t written = 0;
  bool ok = true;
  for (std::size_t i = 0; ok && i < pieces.size(); ++i) {
    const bool last = i + 1 == pieces.size();
    z.next_in = bytes(pieces[i]);
    z.avail_in = static_cast<uInt>(pieces[i].size());
    for (;;) {
      if (written == out.size()) out.resize(out.size() * 2);
      z.next_out = reinterpret_cast<Bytef*>(out.data() + written);
      z.avail_out =
          static_cast<uInt>(std::min<std::size_t>(out.size() - written, std::numeric_limits<uInt>::max()));
      const uInt before = z.avail_out;
      const int rc = deflate(&z, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      written += before - z.avail_out;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        ok = false;
        break;
      }
      // Done with this piece once zlib has taken all of it and had room left (so the flush, for
      // the last piece, is complete).
      if (z.avail_in == 0 && z.avail_out > 0) break;
    }
  }
  // A sync flush ends with an empty stored block: 00 00 ff ff, which the receiver adds back.
  ok = ok && written >= 4 && std::memcmp(out.data() + written - 4, kTail, 4) == 0;
  out.resize(ok ? written - 4 : 0);
  if (!ok || !keep_context) deflateReset(&z);
  return ok;
}

// --- Inflater ----------------------------------------------------------------------------------

struct Inflater::Stream {
  z_stream z;
};

Inflater::Inflater(int window_bits, Metrics::Gauge memory) : window_bits_(window_bits) {
  account_.gauge = memory;
}

Inflater::~Inflater() {
  if (z_) inflateEnd(&z_->z);
}

InflateResult Inflater::inflate(std::string_view in, std::size_t limit, std::string& out, bool keep_context) {
  if (!z_) {
    auto s = std::make_unique<Stream>();
    prepare(s->z, account_);
    if (inflateInit2(&s->z, -window_bits_) != Z_OK) return InflateResult::bad_data;
    z_ = std::move(s);
  }
  z_stream& z = z_->z;
  // An empty payload is no deflate data at all (a conforming sender sends a single 00 byte for
  // an empty message, RFC 7692 §7.2.3.6); taken as an empty message, as ws does.
  if (in.empty()) {
    out.clear();
    return InflateResult::ok;
  }
  const std::size_t cap = limit + 1;  // one byte over the limit is enough to know
  grow_exact(out, 0, std::min(cap, std::max(kInitialOutput, in.size() * 4)));
  std::size_t written = 0;
  InflateResult result = InflateResult::ok;
  bool ended = false;  // the client ended its deflate stream (a final block): legal, no context left
  const std::string_view tail(reinterpret_cast<const char*>(kTail), sizeof kTail);
  for (const std::string_view piece : {in, tail}) {
    z.next_in = bytes(piece);
    z.avail_in = static_cast<uInt>(piece.size());
    while (!ended && result == InflateResult::ok) {
      if (written == out.size()) {
        if (out.size() >= cap) {
          result = InflateResult::too_big;
          break;
        }
        grow_exact(out, written, std::min(cap, out.size() * 2));
      }
      z.next_out = reinterpret_cast<Bytef*>(out.data() + written);
      z.avail_out =
          static_cast<uInt>(std::min<std::size_t>(out.size() - written, std::numeric_limits<uInt>::max()));
      const uInt before = z.avail_out;
      const int rc = ::inflate(&z, Z_SYNC_FLUSH);
      written += before - z.avail_out;
      if (written > limit) {
        result = InflateResult::too_big;
      } else if (rc == Z_STREAM_END) {
        ended = true;
      } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
        // Z_BUF_ERROR: no progress possible: all input used with output room left.
        if (z.avail_in == 0 && z.avail_out > 0) break;
      } else {
        result = InflateResult::bad_data;  // Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR
      }
    }
    if (ended || result != InflateResult::ok) break;
  }
  // After the tail (an empty stored block) a complete message leaves zlib waiting for the next
  // block header (data_type bit 128); anywhere else, the message was cut short.
  if (result == InflateResult::ok && !ended && (z.data_type & 128) == 0) result = InflateResult::bad_data;
  out.resize(result == InflateResult::ok ? written : 0);
  if (result != InflateResult::ok || ended || !keep_context) inflateReset(&z);
  return result;
}

// --- DeflateShard ------------------------------------------------------------------------------

DeflateShard::DeflateShard(int mem_level, int level, Metrics::Gauge memory)
    : inflater_(15, memory), memory_(memory), mem_level_(mem_level), level_(level) {}

DeflateShard::~DeflateShard() = default;

DeflateShard::Compressed DeflateShard::compress(std::string_view head, const core::SharedBytes& body,
                                                int window_bits) {
  if (body) {
    for (std::size_t i = 0; i < used_; ++i) {
      const Entry& e = cache_[i];
      if (e.body == body && e.window_bits == window_bits &&
          std::string_view(e.head.data(), e.head_len) == head)
        return {e.out, true, false};
    }
  }
  auto& d = deflaters_[static_cast<std::size_t>(window_bits)];
  if (!d) d = std::make_unique<Deflater>(window_bits, mem_level_, level_, memory_);
  const std::string_view pieces[2] = {head, body ? std::string_view(*body) : std::string_view()};
  const std::size_t size = pieces[0].size() + pieces[1].size();
  Compressed result;
  if (!d->compress(pieces, out_, false)) {
    result.failed = true;
  } else if (out_.size() < size) {
    result.bytes = core::make_bytes(std::string_view(out_));
  }
  if (out_.capacity() > kKeepScratch) std::string().swap(out_);
  if (body && !result.failed && head.size() <= 2) {
    Entry& e = cache_[next_];
    e.body = body;
    std::copy(head.begin(), head.end(), e.head.begin());
    e.head_len = static_cast<std::uint8_t>(head.size());
    e.window_bits = window_bits;
    e.out = result.bytes;
    next_ = (next_ + 1) % kCacheSize;
    used_ = std::max(used_, next_ == 0 ? kCacheSize : next_);
  }
  return result;
}

bool DeflateShard::needs_clear() noexcept {
  if (used_ == 0 || clear_scheduled_) return false;
  clear_scheduled_ = true;
  return true;
}

void DeflateShard::clear() {
  for (auto& e : cache_) e = Entry{};
  next_ = used_ = 0;
  clear_scheduled_ = false;
}

void DeflateShard::shrink() {
  if (scratch_.capacity() > kKeepScratch) std::string().swap(scratch_);
}

}  // namespace socketio::net::ws
