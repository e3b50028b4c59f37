#include "net/ws_handshake.hpp"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace socketio::net::ws {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

std::optional<std::string> switching_protocols(
    const detail::BeastRequest& req, const std::vector<std::pair<std::string, std::string>>& headers) {
  if (req.version() != 11 || req.method() != http::verb::get || req.count(http::field::host) == 0)
    return std::nullopt;
  const auto connection = req.find(http::field::connection);
  if (connection == req.end() || !http::token_list{connection->value()}.exists("upgrade"))
    return std::nullopt;
  const auto upgrade = req.find(http::field::upgrade);
  if (upgrade == req.end() || !http::token_list{upgrade->value()}.exists("websocket")) return std::nullopt;
  const auto key = req.find(http::field::sec_websocket_key);
  if (key == req.end() || key->value().size() > websocket::detail::sec_ws_key_type::static_capacity)
    return std::nullopt;
  const auto version = req.find(http::field::sec_websocket_version);
  if (version == req.end() || version->value() != "13") return std::nullopt;
  if (const auto expect = req.find(http::field::expect);
      expect != req.end() && beast::iequals(expect->value(), "100-continue"))
    return std::nullopt;

  websocket::response_type res;
  res.result(http::status::switching_protocols);
  res.version(req.version());
  res.set(http::field::upgrade, "websocket");
  res.set(http::field::connection, "upgrade");
  websocket::detail::sec_ws_accept_type accept;
  websocket::detail::make_sec_ws_accept(accept, key->value());
  res.set(http::field::sec_websocket_accept, beast::string_view(accept.data(), accept.size()));
  // (Beast's permessage-deflate is never enabled: the session negotiates its own, in `headers`.)
  for (const auto& [name, value] : headers) res.insert(name, value);
  if (res.count(http::field::server) == 0) res.set(http::field::server, BOOST_BEAST_VERSION_STRING);

  std::string out;
  http::serializer<false, http::string_body> sr{res};
  boost::system::error_code ec;
  while (!sr.is_done()) {
    sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
      for (const auto b : beast::buffers_range_ref(buffers))
        out.append(static_cast<const char*>(b.data()), b.size());
      sr.consume(beast::buffer_bytes(buffers));
    });
    if (ec) return std::nullopt;
  }
  return out;
}

}  // namespace socketio::net::ws
