// The request head as the server parses it (Beast) converted to the Beast-free HttpRequest. No
// sockets here: fuzzed with Beast's parser by tests/fuzz/http_request_fuzz.cpp.
#include "net/http_convert.hpp"

namespace socketio::net::detail {

namespace http = boost::beast::http;

HttpRequest to_http_request(BeastRequest& req, bool secure) {
  HttpRequest out;
  switch (req.method()) {
    case http::verb::get:
      out.method = Method::get;
      break;
    case http::verb::post:
      out.method = Method::post;
      break;
    case http::verb::put:
      out.method = Method::put;
      break;
    case http::verb::options:
      out.method = Method::options;
      break;
    case http::verb::head:
      out.method = Method::head;
      break;
    default:
      out.method = Method::other;
      break;
  }
  out.method_name = std::string(req.method_string());
  out.target = std::string(req.target());
  out.version = static_cast<int>(req.version());
  out.keep_alive = req.keep_alive();
  out.headers.reserve(16);
  for (const auto& f : req) out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  out.body = std::move(req.body());
  out.secure = secure;
  return out;
}

void configure_request_parser(RequestParser& parser, std::size_t header_limit, std::size_t body_limit) {
  parser.header_limit(static_cast<std::uint32_t>(header_limit));
  parser.body_limit(body_limit);
}

}  // namespace socketio::net::detail
