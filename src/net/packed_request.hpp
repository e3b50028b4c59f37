// A request kept for a long time (an Engine.IO session's handshake, which its sockets'
// handshakes are built from, lazily): every string of it in one allocation. An HttpRequest holds
// two std::string per header (64 bytes before their text, and a heap block for each longer than
// 15 characters); an idle connection should cost as little as possible. Immutable; the body is
// not kept. unpack() gives the HttpRequest back for the rare reader that needs one. make_shared()
// puts the object, its text and the shared_ptr's control block in one allocation.
#pragma once

#include "net/http_message.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace socketio::net {

class PackedRequest {
 public:
  explicit PackedRequest(const HttpRequest& req);  // the text in an allocation of its own
  // The text right after the object, in the shared_ptr's own block (one allocation in all).
  static std::shared_ptr<const PackedRequest> make_shared(const HttpRequest& req);
  ~PackedRequest();
  PackedRequest(const PackedRequest&) = delete;
  PackedRequest& operator=(const PackedRequest&) = delete;

  HttpRequest unpack() const;  // with an empty body

  // First header with that name (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  // f(name, value) for every header, in the order received.
  template <class F>
  void for_each_header(F&& f) const {
    std::size_t at = headers_at_;
    for (std::uint16_t i = 0; i < header_count_; ++i) {
      const auto name = field(at);
      const auto value = field(at);
      f(name, value);
    }
  }
  std::string_view target() const noexcept;
  std::string_view query() const noexcept;  // after '?', without it (empty, never null)
  std::string_view remote_address() const noexcept;
  bool secure() const noexcept { return secure_; }

 private:
  template <class T>
  struct TailAllocator;
  struct InTail {};
  PackedRequest(const HttpRequest& req, InTail);  // text_ at this + 1 (make_shared's block)
  static std::size_t text_size(const HttpRequest& req);
  void fill(const HttpRequest& req, char* text);
  // The field that starts at `at` (a 4-byte length, then the bytes); `at` moves past it.
  std::string_view field(std::size_t& at) const noexcept;

  const char* text_ = nullptr;  // method name, target, remote address, then each header's name and value
  std::uint32_t headers_at_ = 0;
  std::uint16_t header_count_ = 0;
  std::uint16_t remote_port_ = 0;
  Method method_ = Method::get;
  std::uint8_t version_ = 11;
  bool secure_ = false;
  bool keep_alive_ = true;
  bool owns_text_ = false;  // text_ is a block of its own (new[]), not this object's tail
};

}  // namespace socketio::net
