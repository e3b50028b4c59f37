#include "net/packed_request.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace socketio::net {

PackedRequest::PackedRequest(const HttpRequest& req)
    : remote_port_(req.remote_port),
      method_(req.method),
      version_(static_cast<std::uint8_t>(req.version)),
      secure_(req.secure),
      keep_alive_(req.keep_alive) {
  if (req.headers.size() > std::numeric_limits<std::uint16_t>::max())
    throw std::length_error("PackedRequest: too many headers");
  std::size_t size = 4 * (3 + 2 * req.headers.size()) + req.method_name.size() + req.target.size() +
                     req.remote_address.size();
  for (const auto& h : req.headers) size += h.name.size() + h.value.size();
  if (size > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("PackedRequest: too large");
  text_.reserve(size);
  add(req.method_name);
  add(req.target);
  add(req.remote_address);
  headers_at_ = static_cast<std::uint32_t>(text_.size());
  for (const auto& h : req.headers) {
    add(h.name);
    add(h.value);
  }
  header_count_ = static_cast<std::uint16_t>(req.headers.size());
}

void PackedRequest::add(std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  char len[4];
  std::memcpy(len, &n, 4);
  text_.append(len, 4);
  text_.append(s);
}

std::string_view PackedRequest::field(std::size_t& at) const noexcept {
  std::uint32_t n = 0;
  std::memcpy(&n, text_.data() + at, 4);
  const std::string_view s(text_.data() + at + 4, n);
  at += 4 + n;
  return s;
}

std::string_view PackedRequest::target() const noexcept {
  std::size_t at = 0;
  field(at);  // the method
  return field(at);
}

std::string_view PackedRequest::query() const noexcept {
  const std::string_view t = target();
  const auto q = t.find('?');
  // Empty but never null: boost::urls::parse_query takes a null view for a C string (strlen).
  return q == std::string_view::npos ? t.substr(t.size()) : t.substr(q + 1);
}

std::string_view PackedRequest::remote_address() const noexcept {
  std::size_t at = 0;
  field(at);
  field(at);
  return field(at);
}

std::optional<std::string_view> PackedRequest::header(std::string_view name) const noexcept {
  std::optional<std::string_view> found;
  for_each_header([&](std::string_view n, std::string_view v) {
    if (!found && iequals(n, name)) found = v;
  });
  return found;
}

HttpRequest PackedRequest::unpack() const {
  HttpRequest r;
  std::size_t at = 0;
  r.method = method_;
  r.method_name = std::string(field(at));
  r.target = std::string(field(at));
  r.remote_address = std::string(field(at));
  r.version = version_;
  r.remote_port = remote_port_;
  r.secure = secure_;
  r.keep_alive = keep_alive_;
  r.headers.reserve(header_count_);
  for_each_header([&](std::string_view n, std::string_view v) {
    r.headers.push_back({std::string(n), std::string(v)});
  });
  return r;
}

}  // namespace socketio::net
