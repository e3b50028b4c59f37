// libFuzzer target for HTTP request heads as the server reads them: Beast's request parser set
// up by net::detail::configure_request_parser with the server's default limits (16 KiB of
// headers, 1 MB of body), fed the input in two pieces (the split point taken from the first
// byte, so that heads cut anywhere are covered, as a slow client sends them), then every
// request it completes converted by net::detail::to_http_request (src/net/http_convert.*), the
// path the HTTP session takes; then the parsed value's accessors are exercised. Pipelined
// requests are parsed one after the other, as a keep-alive session does. Built by scripts/fuzz.sh.
#include "fuzz_check.hpp"
#include "net/http_convert.hpp"

#include <boost/asio/buffer.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace {

using socketio::net::HttpRequest;
namespace detail = socketio::net::detail;
namespace http = boost::beast::http;

using socketio::fuzz::check;

void exercise(const HttpRequest& r, std::size_t input_size) {
  check(!r.method_name.empty(), "a method");
  check(r.version == 10 || r.version == 11, "HTTP/1.0 or 1.1");
  check(r.target.size() <= input_size, "the target comes from the input");
  const std::string_view path = r.path();
  const std::string_view query = r.query();
  const bool has_query = r.target.find('?') != std::string::npos;
  check(path.size() + (has_query ? 1 + query.size() : 0) == r.target.size(), "path '?' query is the target");
  check(query.data() != nullptr, "the query is never a null view");
  for (const auto& h : r.headers) {
    const auto v = r.header(h.name);
    check(v.has_value(), "every header can be looked up");
  }
  (void)r.header("Host");
  (void)r.header("Sec-WebSocket-Key");
}

// Feeds one piece; returns the bytes used, or nullopt when the parser failed.
std::optional<std::size_t> feed(detail::RequestParser& p, std::string_view piece) {
  boost::system::error_code ec;
  std::size_t used = 0;
  while (used < piece.size() && !p.is_done()) {
    const std::size_t n = p.put(boost::asio::buffer(piece.data() + used, piece.size() - used), ec);
    used += n;
    // As http::read does: after need_more, put() is called again only once more bytes are in.
    if (ec == http::error::need_more) break;
    if (ec) return std::nullopt;
  }
  return used;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = data[0] % size;
  std::string buffer;  // what the session's flat_buffer holds
  std::size_t fed = 0;
  // The bytes arrive in two reads: up to `split`, then the rest.
  auto read_more = [&] {
    if (fed >= input.size()) return false;
    const std::size_t take = fed < split ? split - fed : input.size() - fed;
    buffer.append(input.substr(fed, take));
    fed += take;
    return true;
  };
  for (int requests = 0; requests < 8; ++requests) {
    detail::RequestParser parser;
    parser.eager(true);
    detail::configure_request_parser(parser, 16 * 1024, 1'000'000);
    for (;;) {
      const auto used = feed(parser, buffer);
      if (!used) return 0;
      buffer.erase(0, *used);
      if (parser.is_done()) break;
      if (!read_more()) {
        boost::system::error_code ec;
        if (parser.got_some()) parser.put_eof(ec);  // the peer closed: a body up to EOF ends here
        break;
      }
    }
    if (!parser.is_done()) return 0;
    auto msg = parser.release();
    const HttpRequest r = detail::to_http_request(msg, false);
    exercise(r, input.size());
  }
  return 0;
}
