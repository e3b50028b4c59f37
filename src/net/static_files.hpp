// StaticFiles: the HTTP handler for everything the server serves that is not Engine.IO: the
// official Socket.IO client bundle at <path>socket.io.js (& .min.js, .esm.min.js, .msgpack.min.js,
// and their .map files), and at "/" either the chat page built into the binary or the files of
// a directory (--static DIR). The bundle and the page are embedded at build time with their
// gzip and brotli variants (cmake/EmbedFiles.cmake), so a request costs a lookup and a copy.
// Built once at start-up by the server (the constructor reads client_dir and checks static_dir,
// throwing std::runtime_error on a bad one), then called concurrently from every shard thread:
// the embedded and pre-loaded files are immutable, and the small cache of --static files is
// guarded by a mutex. Beast-free, like the rest of the layers above src/net's sessions.
#pragma once

#include <cstddef>
#include <span>

namespace socketio::net {

// One file built into the binary by cmake/EmbedFiles.cmake. Plain pointers and sizes, so the
// generated tables are constant-initialized (no start-up work, no static-init order).
struct EmbeddedBlob {
  const unsigned char* data = nullptr;
  std::size_t size = 0;
};
struct EmbeddedFile {
  const char* name;          // path relative to the embedded directory, e.g. "socket.io.js"
  const char* content_type;  // the Content-Type header value
  const char* hash;          // first 16 hex digits of the content's SHA-256
  EmbeddedBlob data;         // the bytes as they are
  EmbeddedBlob gzip;         // gzip -9 -n; empty when not made
  EmbeddedBlob br;           // brotli -q 11; empty when not made
};
struct EmbeddedTable {
  const char* version;  // e.g. socket.io-client's version; "" if unknown
  std::span<const EmbeddedFile> files;
};

namespace embedded {
// Defined by the generated sources. client_bundle() is empty when web/node_modules was missing
// at configure time.
EmbeddedTable client_bundle() noexcept;
EmbeddedTable chat_page() noexcept;
}  // namespace embedded

}  // namespace socketio::net

// The generated tables define SIO_EMBEDDED_TYPES_ONLY: they need only the types above, and
// skipping the rest saves each of them most of its compile time.
#ifndef SIO_EMBEDDED_TYPES_ONLY

#include "net/http_handler.hpp"
#include "net/http_message.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace socketio::net {

struct StaticOptions {
  std::string client_prefix = "/socket.io/";  // the Socket.IO path; must start and end with '/'
  bool serve_client = true;
  std::string client_dir;  // empty: the embedded bundle
  std::string static_dir;  // empty: the embedded chat page
  bool serve_static = true;
  std::size_t max_file_size = 10 * 1024 * 1024;  // --static files above this are refused
  std::size_t cache_bytes = 8 * 1024 * 1024;     // --static files kept in memory (by mtime)
};

// Which content coding to answer with, from an Accept-Encoding value (all such headers joined
// by ','): the highest q among those available, ties going to br, then gzip, then identity.
// q=0 refuses a coding; identity is acceptable unless refused (explicitly or by "*;q=0").
enum class Encoding : std::uint8_t { identity, gzip, br };
Encoding choose_encoding(std::string_view accept_encoding, bool have_gzip, bool have_br) noexcept;

// True when an If-None-Match value ("*", or a list of entity tags, weak or strong) matches etag
// (a quoted strong tag), by the weak comparison RFC 9110 prescribes for If-None-Match.
bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept;

class StaticFiles final : public HttpHandler {
 public:
  explicit StaticFiles(StaticOptions options);
  ~StaticFiles() override;
  StaticFiles(const StaticFiles&) = delete;
  StaticFiles& operator=(const StaticFiles&) = delete;

  // True for the bundle routes (when serve_client, any method: others get 405) and, when
  // serve_static, for any GET/HEAD whose path is not under client_prefix (those belong to
  // Engine.IO, as does the prefix itself). Put this handler last in the router.
  bool matches(const HttpRequest& request) const;

  void on_request(HttpRequest&& request, ResponderPtr responder) override;
  void on_upgrade(WebSocketPtr ws) override;  // 404: nothing here speaks WebSocket

  // Answers synchronously; on_request() is respond(handle(...)). Public for tests.
  HttpResponse handle(const HttpRequest& request);

  std::string_view client_version() const noexcept { return client_version_; }

 private:
  // A file ready to send: views into the embedded table or into `owned`.
  struct Entry {
    std::string_view content_type;
    std::string etag;  // quoted
    std::string_view identity, gzip, br;
    std::shared_ptr<const std::string> owned;  // backing storage for files read from disk
  };
  enum class Kind { bundle, page, file };  // page: the embedded chat page; file: from --static

  HttpResponse serve(const HttpRequest& request, const Entry& entry, Kind kind) const;
  HttpResponse serve_bundle(const HttpRequest& request);
  HttpResponse serve_page(const HttpRequest& request);
  HttpResponse serve_directory(const HttpRequest& request);
  std::optional<Entry> load_cached(const std::filesystem::path& file, std::uintmax_t size,
                                   std::filesystem::file_time_type mtime);

  StaticOptions options_;
  std::string client_version_;
  std::map<std::string, Entry, std::less<>> bundle_;  // by file name
  std::map<std::string, Entry, std::less<>> page_;    // embedded page, by file name
  std::filesystem::path static_root_;                 // canonical; empty: embedded page
  std::atomic<bool> warned_missing_bundle_{false};

  struct CachedFile {
    std::filesystem::file_time_type mtime;
    std::uintmax_t size = 0;
    std::uint64_t last_use = 0;
    Entry entry;
  };
  std::mutex cache_mutex_;
  std::map<std::string, CachedFile> cache_;  // by canonical path
  std::size_t cache_used_ = 0;
  std::uint64_t cache_clock_ = 0;
};

}  // namespace socketio::net

#endif  // SIO_EMBEDDED_TYPES_ONLY
