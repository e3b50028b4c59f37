#include "net/packed_request.hpp"

#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>

namespace socketio::net {

// allocate_shared's allocator: the block it makes (control block and object) is followed by
// the object's text, whose size make_shared() leaves in `tail` for the one allocate() it calls on
// this thread (a size kept in the allocator would be kept in the block: 8 bytes more). The object
// knows where its text is: right after itself, which is inside the block, so the text is too.
namespace {
thread_local std::size_t tail = 0;
}

template <class T>
struct PackedRequest::TailAllocator {
  using value_type = T;
  TailAllocator() noexcept = default;
  template <class U>
  TailAllocator(const TailAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t extra = std::exchange(tail, 0);
    return static_cast<T*>(::operator new(n * sizeof(T) + extra));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  // A member of PackedRequest's, so it may call the private constructor.
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  void destroy(U* p) noexcept {
    p->~U();
  }
  template <class U>
  bool operator==(const TailAllocator<U>&) const noexcept {
    return true;
  }
};

std::size_t PackedRequest::text_size(const HttpRequest& req) {
  if (req.headers.size() > std::numeric_limits<std::uint16_t>::max())
    throw std::length_error("PackedRequest: too many headers");
  std::size_t size = 4 * (3 + 2 * req.headers.size()) + req.method_name.size() + req.target.size() +
                     req.remote_address.size();
  for (const auto& h : req.headers) size += h.name.size() + h.value.size();
  if (size > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("PackedRequest: too large");
  return size;
}

namespace {
char* add(char* out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  std::memcpy(out, &n, 4);
  if (n > 0) std::memcpy(out + 4, s.data(), n);
  return out + 4 + n;
}
}  // namespace

void PackedRequest::fill(const HttpRequest& req, char* text) {
  char* out = text;
  out = add(out, req.method_name);
  out = add(out, req.target);
  out = add(out, req.remote_address);
  headers_at_ = static_cast<std::uint32_t>(out - text);
  for (const auto& h : req.headers) {
    out = add(out, h.name);
    out = add(out, h.value);
  }
  header_count_ = static_cast<std::uint16_t>(req.headers.size());
  text_ = text;
}

PackedRequest::PackedRequest(const HttpRequest& req)
    : remote_port_(req.remote_port),
      method_(req.method),
      version_(static_cast<std::uint8_t>(req.version)),
      secure_(req.secure),
      keep_alive_(req.keep_alive) {
  auto text = std::make_unique<char[]>(text_size(req));
  fill(req, text.get());
  text.release();
  owns_text_ = true;
}

PackedRequest::PackedRequest(const HttpRequest& req, InTail)
    : remote_port_(req.remote_port),
      method_(req.method),
      version_(static_cast<std::uint8_t>(req.version)),
      secure_(req.secure),
      keep_alive_(req.keep_alive) {
  fill(req, reinterpret_cast<char*>(this + 1));
}

PackedRequest::~PackedRequest() {
  if (owns_text_) delete[] text_;
}

std::shared_ptr<const PackedRequest> PackedRequest::make_shared(const HttpRequest& req) {
  tail = text_size(req);  // throws before anything is allocated
  return std::allocate_shared<PackedRequest>(TailAllocator<PackedRequest>(), req, InTail{});
}

std::string_view PackedRequest::field(std::size_t& at) const noexcept {
  std::uint32_t n = 0;
  std::memcpy(&n, text_ + at, 4);
  const std::string_view s(text_ + at + 4, n);
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
