#include "net/http_compression.hpp"

#include "net/http_message.hpp"

#include <zlib.h>

#include <array>
#include <cstdlib>

namespace socketio::net {

std::string_view coding_name(ContentCoding c) noexcept {
  switch (c) {
    case ContentCoding::gzip:
      return "gzip";
    case ContentCoding::deflate:
      return "deflate";
    case ContentCoding::identity:
      break;
  }
  return "";
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One "name;q=0.5" entry of the header.
struct Entry {
  std::string_view name;
  double q = 1;
};

Entry parse_entry(std::string_view item) {
  Entry e;
  const auto semi = item.find(';');
  e.name = trim(item.substr(0, semi));
  for (auto rest = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
       !rest.empty();) {
    const auto next = rest.find(';');
    auto param = trim(rest.substr(0, next));
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      const std::string v(param.substr(2));
      char* end = nullptr;
      const double q = std::strtod(v.c_str(), &end);
      e.q = end && *end == '\0' && q >= 0 && q <= 1 ? q : 0;
    }
  }
  return e;
}

// A candidate's priority: its q, whether an exact name matched (else "*"), its header position.
struct Priority {
  double q = -1;
  int exact = -1;
  int order = -1;
};

}  // namespace

ContentCoding negotiate_coding(std::optional<std::string_view> accept_encoding) {
  if (!accept_encoding) return ContentCoding::identity;
  constexpr std::array<std::pair<ContentCoding, std::string_view>, 2> kCandidates = {
      {{ContentCoding::gzip, "gzip"}, {ContentCoding::deflate, "deflate"}}};
  std::array<Priority, 2> prio;
  std::string_view rest = *accept_encoding;
  // Bounded: a header is at most the HTTP parser's header limit; entries are walked once.
  for (int order = 0; !rest.empty(); ++order) {
    const auto comma = rest.find(',');
    const auto e = parse_entry(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    for (std::size_t i = 0; i < kCandidates.size(); ++i) {
      const int exact = iequals(e.name, kCandidates[i].second) ? 1 : e.name == "*" ? 0 : -1;
      if (exact < 0) continue;
      auto& p = prio[i];
      // negotiator: the more specific match wins, then the higher q, then the later entry.
      if (exact > p.exact || (exact == p.exact && (e.q > p.q || (e.q == p.q && order > p.order))))
        p = Priority{e.q, exact, order};
    }
  }
  int best = -1;
  for (int i = 0; i < 2; ++i) {
    const auto& p = prio[static_cast<std::size_t>(i)];
    if (p.q <= 0) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    const auto& b = prio[static_cast<std::size_t>(best)];
    // Sorted by q, then specificity, then header order (then the candidates' own order).
    if (p.q > b.q || (p.q == b.q && (p.exact > b.exact || (p.exact == b.exact && p.order < b.order))))
      best = i;
  }
  return best < 0 ? ContentCoding::identity : kCandidates[static_cast<std::size_t>(best)].first;
}

bool compress_body(ContentCoding coding, std::string_view in, std::string& out) {
  if (coding == ContentCoding::identity) return false;
  z_stream z{};
  // windowBits 15 (+16: gzip wrapper), memLevel 8: zlib's and Node's defaults.
  const int bits = coding == ContentCoding::gzip ? 15 + 16 : 15;
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

}  // namespace socketio::net
