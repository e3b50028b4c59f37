// libFuzzer target for the permessage-deflate payload path (src/net/ws_deflate): inflating what
// a client sends. The first byte picks the window, the message limit and whether the context is
// kept; the rest is cut into messages at each "\xff\xfe" and each is inflated as a compressed
// message: the output never passes the limit, whatever the verdict. Then the same pieces are
// compressed by the server's Deflater and must inflate back to themselves (with a large enough
// limit), with and without context takeover. Built by scripts/fuzz.sh.
#include "fuzz_check.hpp"
#include "net/ws_deflate.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace ws = socketio::net::ws;

using socketio::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int bits = 9 + data[0] % 7;
  const std::size_t limit = std::size_t{1} << (4 + (data[0] >> 3) % 14);  // 16 bytes .. 2 MiB
  const bool keep = (data[0] & 0x80) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> messages;
  for (std::size_t at = 0;;) {
    const std::size_t cut = rest.find("\xff\xfe", at);
    messages.push_back(rest.substr(at, cut == std::string_view::npos ? std::string_view::npos : cut - at));
    if (cut == std::string_view::npos) break;
    at = cut + 2;
  }

  ws::Inflater hostile(bits);
  std::string out;
  for (auto m : messages) {
    const auto r = hostile.inflate(m, limit, out, keep);
    check(out.size() <= limit, "output within the limit");
    check(r == ws::InflateResult::ok || out.empty(), "no output on a refusal");
    check(out.capacity() <= std::max<std::size_t>(limit + 1, 4096) + 64, "buffer within the limit");
  }

  ws::Deflater deflater(bits, 1 + data[0] % 9, data[0] % 10);
  ws::Inflater inflater(bits);
  std::string packed;
  for (auto m : messages) {
    const std::string_view pieces[2] = {m.substr(0, 1), m.substr(std::min<std::size_t>(1, m.size()))};
    check(deflater.compress(pieces, packed, keep), "deflate works");
    check(inflater.inflate(packed, m.size() + 1, out, keep) == ws::InflateResult::ok, "round trip inflates");
    check(out == m, "round trip gives the message back");
  }
  return 0;
}
