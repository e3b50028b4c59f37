// Internal to src/net: Beast's parsed request -> HttpRequest (method, target, version,
// keep-alive, headers, body; the peer's address is the session's to add), and the request
// parser set up with the server's limits. Beast's http types only, no Asio sockets: the HTTP
// session (server.cpp) and the fuzz target tests/fuzz/http_request_fuzz.cpp share it.
#pragma once

#include "net/http_message.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>

namespace socketio::net::detail {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Moves the body out of req.
HttpRequest to_http_request(BeastRequest& req, bool secure);

// ServerOptions::header_limit and body_limit, as every request of a session is read with.
void configure_request_parser(RequestParser& parser, std::size_t header_limit, std::size_t body_limit);

}  // namespace socketio::net::detail
