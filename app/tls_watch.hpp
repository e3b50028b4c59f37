// Watches the TLS files of socketio-server (--tls-watch): remembers each file's size, mtime and
// inode, and says when any of them differs (replaced, rewritten, removed). main() polls it every
// 2 s and calls Server::reload_tls() on a change. It lives in the app because the public Server
// API offers reload_tls() but not the TLS layer's own files_changed(). Plain std::filesystem;
// not thread-safe (one owner, the control thread).
#pragma once

#include "socketio/server.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace socketio::app {

class TlsWatch {
 public:
  // Every file the configuration names: certificate, key, CA, passphrase and the SNI ones.
  explicit TlsWatch(const TlsConfig& tls);

  bool empty() const noexcept { return files_.empty(); }
  // True when a file differs from the last snapshot; takes a new snapshot either way, so a
  // refused reload is retried only after the files change again.
  bool changed();

 private:
  struct Stamp {
    bool exists = false;
    std::uintmax_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp stamp(const std::string& path);

  std::vector<std::string> files_;
  std::vector<Stamp> stamps_;
};

}  // namespace socketio::app
