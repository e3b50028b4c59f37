// StaticFiles: the HTTP handler for everything the server serves that is not Engine.IO: the
// official Socket.IO client bundle at <path>socket.io.js (& .min.js, .esm.min.js, .msgpack.min.js,
// and their .map files), and at "/" either the chat page built into the binary or the files of
// a directory (--static DIR). The bundle and the page are embedded at build time with their
// gzip and brotli variants (cmake/EmbedFiles.cmake), so a request costs a lookup: the response
// shares the bytes (HttpResponse::shared_body), they are not copied.
//
// --static files never cost a shard thread a file-system call: the shard only checks the path
// (string work) and looks it up in a small cache of files (by mtime, size and inode; its bytes
// are shared with the responses as well). What the cache cannot answer (a miss, or an entry
// last checked more than revalidate_after ago) goes to FileJobs (file_jobs.hpp), a few threads
// of their own that resolve, stat, open and read the file, then answer through the Responder.
// So an edited file is seen at most revalidate_after (1 s) late. Only regular files are served:
// FIFOs, devices and sockets get 404 without ever being read (opened with O_NONBLOCK, so a FIFO
// cannot hold even an I/O thread). Past max_pending waiting jobs: 503 with Retry-After. A
// client that leaves before its job runs costs no file-system call (Responder::on_abort).
//
// Built once at start-up by the server (the constructor reads client_dir and checks static_dir,
// throwing std::runtime_error on a bad one), then called concurrently from every shard thread:
// the embedded and pre-loaded files are immutable, and the cache of --static files is guarded by
// a mutex held for a map lookup. Beast-free, like the rest of the layers above src/net's sessions.
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

#include "core/trip_log.hpp"
#include "net/http_handler.hpp"
#include "net/http_message.hpp"

#include "socketio/metrics.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct stat;  // <sys/stat.h>, for StaticFiles::FileId::of

namespace socketio::net {

class FileJobs;

struct StaticOptions {
  std::string client_prefix = "/socket.io/";  // the Socket.IO path; must start and end with '/'
  bool serve_client = true;
  std::string client_dir;  // empty: the embedded bundle
  std::string static_dir;  // empty: the embedded chat page
  bool serve_static = true;
  std::size_t max_file_size = 10 * 1024 * 1024;  // --static files above this are refused
  std::size_t cache_bytes = 8 * 1024 * 1024;     // --static files kept in memory (by mtime)
  // --static: file jobs waiting for an I/O thread (--static-max-pending); over it, 503.
  std::size_t max_pending = 1024;
  std::size_t io_threads = 2;  // see file_jobs.hpp for why 2
  // A cached --static file is served without looking at the disk for this long after its last
  // check; then the next request re-checks it on an I/O thread (0: every request does).
  std::chrono::milliseconds revalidate_after{1000};
  Metrics* metrics = nullptr;  // where the counters go; null: not counted
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
  ~StaticFiles() override;  // waits for the file jobs running, drops those queued
  StaticFiles(const StaticFiles&) = delete;
  StaticFiles& operator=(const StaticFiles&) = delete;

  // True for the bundle routes (when serve_client, any method: others get 405) and, when
  // serve_static, for any GET/HEAD whose path is not under client_prefix (those belong to
  // Engine.IO, as does the prefix itself). Put this handler last in the router.
  bool matches(const HttpRequest& request) const;

  // Answers at once, except a --static request the cache cannot answer: later, from an I/O
  // thread (the Responder may be called from any thread).
  void on_request(HttpRequest&& request, ResponderPtr responder) override;
  void on_upgrade(WebSocketPtr ws) override;  // 404: nothing here speaks WebSocket

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
  // A --static request once its path is checked (no file system yet).
  struct DirTarget {
    std::filesystem::path file;  // relative to the root, index.html added for ".../"
    bool wants_directory = false;
  };
  // What tells a file's version apart without reading it.
  struct FileId {
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
    static FileId of(const struct ::stat& st) noexcept;
  };
  struct FileJob;

  HttpResponse serve(const HttpRequest& request, const Entry& entry, Kind kind) const;
  HttpResponse serve_bundle(const HttpRequest& request);
  HttpResponse serve_page(const HttpRequest& request);
  void serve_directory(HttpRequest&& request, ResponderPtr responder);
  std::optional<DirTarget> directory_target(const HttpRequest& request) const;
  // On an I/O thread:
  HttpResponse load(const HttpRequest& request, const DirTarget& target);
  // The cache (any thread): fresh() only answers within revalidate_after of the last check.
  std::shared_ptr<const Entry> fresh(const std::string& key);
  std::shared_ptr<const Entry> revalidate(const std::string& key, const FileId& id);
  void remember(const std::string& key, const FileId& id, std::shared_ptr<const Entry> entry);
  void forget(const std::string& key);
  void register_metrics(Metrics& metrics);

  StaticOptions options_;
  std::string client_version_;
  std::map<std::string, Entry, std::less<>> bundle_;  // by file name
  std::map<std::string, Entry, std::less<>> page_;    // embedded page, by file name
  std::filesystem::path static_root_;                 // canonical; empty: embedded page
  std::atomic<bool> warned_missing_bundle_{false};

  struct CachedFile {
    FileId id;
    std::chrono::steady_clock::time_point checked;
    std::uint64_t last_use = 0;
    std::shared_ptr<const Entry> entry;
  };
  std::mutex cache_mutex_;
  std::map<std::string, CachedFile, std::less<>> cache_;  // by DirTarget::file
  std::size_t cache_used_ = 0;
  std::uint64_t cache_clock_ = 0;

  struct Counters {
    Metrics::Counter queue_full, not_regular, too_large, abandoned, reads;
  } counters_;
  std::mutex log_mutex_;  // the 503 path is taken by any shard; the log throttle is one thread's
  core::TripLog queue_full_log_;
  std::shared_ptr<FileJobs> jobs_;  // only with static_dir; shared with the metrics collector
};

}  // namespace socketio::net

#endif  // SIO_EMBEDDED_TYPES_ONLY
