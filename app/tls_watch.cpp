// TLS file watching for --tls-watch (see tls_watch.hpp). stat(2) rather than std::filesystem
// for the inode: a certificate renewed by a rename (certbot, Kubernetes secrets) keeps its
// size and may keep its mtime, but never its inode.
#include "tls_watch.hpp"

#include <sys/stat.h>

#include <algorithm>

namespace socketio::app {

TlsWatch::TlsWatch(const TlsConfig& tls) {
  auto add = [this](const std::string& f) {
    if (!f.empty() && std::find(files_.begin(), files_.end(), f) == files_.end()) files_.push_back(f);
  };
  add(tls.cert_file);
  add(tls.key_file);
  add(tls.ca_file);
  add(tls.key_passphrase_file);
  for (const std::string& spec : tls.sni) {
    // HOST=CERT,KEY[,CA] (checked by the configuration already).
    const std::size_t eq = spec.find('=');
    if (eq == std::string::npos) continue;
    std::string rest = spec.substr(eq + 1);
    for (std::size_t comma; (comma = rest.find(',')) != std::string::npos; rest.erase(0, comma + 1)) {
      add(rest.substr(0, comma));
    }
    add(rest);
  }
  for (const std::string& f : files_) stamps_.push_back(stamp(f));
}

TlsWatch::Stamp TlsWatch::stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return Stamp{true, static_cast<std::uintmax_t>(st.st_size),
               static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
               static_cast<std::uint64_t>(st.st_ino)};
}

bool TlsWatch::changed() {
  bool any = false;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    Stamp now = stamp(files_[i]);
    if (!(now == stamps_[i])) {
      any = true;
      stamps_[i] = now;
    }
  }
  return any;
}

}  // namespace socketio::app
