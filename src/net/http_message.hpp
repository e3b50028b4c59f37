// Plain HTTP request/response values handed between src/net (which owns the sockets and the
// Beast parser) and the layers above (Engine.IO, static files). Deliberately free of Beast so
// the layers above compile fast and can be unit-tested without sockets. Values: whoever holds
// one owns it, except a response's shared_body, immutable bytes any thread may read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace socketio::net {

enum class Method : std::uint8_t { get, post, put, options, head, other };

struct Header {
  std::string name;  // as received; compare with iequals
  std::string value;
};

bool iequals(std::string_view a, std::string_view b) noexcept;

struct HttpRequest {
  Method method = Method::get;
  std::string method_name;  // "GET", ...
  std::string target;       // path + query, as received
  int version = 11;         // 10 or 11
  std::vector<Header> headers;
  std::string body;
  std::string remote_address;  // peer IP as text
  std::uint16_t remote_port = 0;
  bool secure = false;  // arrived over TLS
  bool keep_alive = true;
  bool body_too_large = false;  // the body exceeded the server's limit and was not read

  // First header with that name (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  std::string_view path() const noexcept;   // target up to '?'
  std::string_view query() const noexcept;  // after '?', without it
};

struct HttpResponse {
  unsigned status = 200;
  std::vector<Header> headers;
  std::string body;
  // Instead of body: immutable bytes shared with a cache or built into the binary, sent without
  // a copy. `bytes` stays valid while `owner` lives (a null owner: static storage).
  struct SharedBody {
    std::shared_ptr<const void> owner;
    std::string_view bytes;
  } shared_body;
  bool close = false;  // close the connection after writing

  // What is sent: shared_body's bytes when there are any, else body.
  std::string_view payload() const noexcept {
    return shared_body.bytes.empty() ? std::string_view(body) : shared_body.bytes;
  }

  HttpResponse& set(std::string name, std::string value) {
    for (auto& h : headers)
      if (iequals(h.name, name)) {
        h.value = std::move(value);
        return *this;
      }
    headers.push_back({std::move(name), std::move(value)});
    return *this;
  }
  std::optional<std::string_view> header(std::string_view name) const noexcept;
};

}  // namespace socketio::net
