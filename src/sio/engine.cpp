// socketio/engine.hpp: the request view the Engine.IO hooks get, and engine.io's cookie.
#include "socketio/engine.hpp"

#include "net/http_message.hpp"

namespace socketio {

std::string_view EngineRequest::method() const noexcept {
  return r_.method_name;
}
std::string_view EngineRequest::url() const noexcept {
  return r_.target;
}
std::string_view EngineRequest::path() const noexcept {
  return r_.path();
}
std::string_view EngineRequest::query() const noexcept {
  return r_.query();
}
std::optional<std::string_view> EngineRequest::header(std::string_view name) const noexcept {
  return r_.header(name);
}
std::string_view EngineRequest::remote_address() const noexcept {
  return r_.remote_address;
}
bool EngineRequest::secure() const noexcept {
  return r_.secure;
}

namespace {

// JavaScript's encodeURIComponent (what the `cookie` package applies to the value).
void append_uri_component(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      std::string_view("-_.!~*'()").find(ch) != std::string_view::npos;
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

}  // namespace

std::string serialize_cookie(const CookieOptions& o, std::string_view sid) {
  // The attribute order of cookie@0.7's serialize(), which engine.io 6 uses.
  std::string out = o.name;
  out += '=';
  append_uri_component(sid, out);
  if (o.max_age) out += "; Max-Age=" + std::to_string(o.max_age->count());
  if (!o.domain.empty()) out += "; Domain=" + o.domain;
  if (!o.path.empty()) out += "; Path=" + o.path;
  if (o.http_only) out += "; HttpOnly";
  if (o.secure) out += "; Secure";
  if (o.partitioned) out += "; Partitioned";
  if (o.same_site == "strict")
    out += "; SameSite=Strict";
  else if (o.same_site == "lax")
    out += "; SameSite=Lax";
  else if (o.same_site == "none")
    out += "; SameSite=None";
  return out;
}

}  // namespace socketio
