// StaticFiles: routing of the bundle and page requests, HTTP caching (ETag / If-None-Match),
// content-coding negotiation over the variants made at build time, and the checks that keep a
// --static request inside its directory. See static_files.hpp for who calls what from where.
#include "net/static_files.hpp"

#include "core/percent.hpp"
#include "net/file_jobs.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace socketio::net {

namespace {

namespace fs = std::filesystem;

// The files of socket.io-client's dist/ that the reference server serves; nothing else under
// the prefix is ours (the rest is Engine.IO's).
constexpr std::array<std::string_view, 8> kBundleNames = {
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
};

// The chat page's Content-Security-Policy: it loads only its own files, so an injected message
// can never run script (the page also renders text, not HTML). It connects to its own server, or
// in a cluster with a node registry to the node /cluster/pick names (https: for its long-polling
// requests; WebSocket connections were never limited to the page's origin).
constexpr std::string_view kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Local rather than net::iequals / HttpRequest::path(): those live in sio_net's http_message.cpp,
// and sio_static must not pull the Beast-heavy sio_net into its unit test.
bool same_token(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view path_of(const HttpRequest& req) noexcept {
  std::string_view t(req.target);
  return t.substr(0, t.find('?'));
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Each response here is built from scratch with distinct names, so appending is enough, and it
// keeps HttpResponse::set() (which calls net::iequals, defined in sio_net) out of this library.
void add_header(HttpResponse& res, std::string name, std::string value) {
  res.headers.push_back({std::move(name), std::move(value)});
}

// Every field with that name, joined with ',' as RFC 9110 allows for list-valued fields.
std::optional<std::string> header_list(const HttpRequest& req, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& h : req.headers) {
    if (!same_token(h.name, name)) continue;
    if (out)
      *out += ',' + h.value;
    else
      out = h.value;
  }
  return out;
}

bool is_bundle_name(std::string_view name) noexcept {
  return std::find(kBundleNames.begin(), kBundleNames.end(), name) != kBundleNames.end();
}

// FNV-1a: ETags of files read at run time only need to change when the bytes do.
std::string hash_hex(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kDigits[h & 0xf];
  return out;
}

std::string_view content_type_for(std::string_view name) noexcept {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "application/javascript; charset=utf-8"},
      {".mjs", "application/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".xml", "application/xml"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".avif", "image/avif"},
      {".ico", "image/x-icon"},
      {".wasm", "application/wasm"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".pdf", "application/pdf"},
      {".mp3", "audio/mpeg"},
      {".ogg", "audio/ogg"},
      {".wav", "audio/wav"},
      {".mp4", "video/mp4"},
      {".webm", "video/webm"},
  };
  const auto dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    const auto ext = name.substr(dot);
    for (const auto& [e, type] : kTypes)
      if (same_token(ext, e)) return type;
  }
  return "application/octet-stream";
}

// Whether p lies inside root (both canonical): compared component by component, so that
// "/srv/www-private" is not taken to be inside "/srv/www".
bool is_within(const fs::path& root, const fs::path& p) {
  auto r = root.begin();
  auto q = p.begin();
  for (; r != root.end(); ++r, ++q)
    if (q == p.end() || *r != *q) return false;
  return true;
}

std::optional<std::string> read_file(const fs::path& file, std::size_t limit) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out;
  char buf[64 * 1024];
  while (in) {
    in.read(buf, sizeof buf);
    out.append(buf, static_cast<std::size_t>(in.gcount()));
    if (out.size() > limit) return std::nullopt;  // grew past the limit since stat()
  }
  if (in.bad()) return std::nullopt;
  return out;
}

// socket.io-client's version from the package.json next to dist/, for the bundle's ETag when
// it is loaded from --client-dir. Only the "version" string is wanted, so no JSON library.
std::string read_package_version(const fs::path& client_dir) {
  const auto text = read_file(client_dir / ".." / "package.json", 1024 * 1024);
  if (!text) return {};
  const std::string_view t(*text);
  auto pos = t.find("\"version\"");
  if (pos == std::string_view::npos) return {};
  pos = t.find(':', pos);
  if (pos == std::string_view::npos) return {};
  const auto open = t.find('"', pos);
  if (open == std::string_view::npos) return {};
  const auto close = t.find('"', open + 1);
  if (close == std::string_view::npos) return {};
  const auto v = t.substr(open + 1, close - open - 1);
  // It goes inside a quoted ETag: keep only what a version can hold.
  const bool plain = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '-' || c == '+';
  });
  return plain ? std::string(v) : std::string();
}

std::string_view view(const EmbeddedBlob& b) noexcept {
  return b.data ? std::string_view(reinterpret_cast<const char*>(b.data), b.size) : std::string_view{};
}

std::string make_etag(std::string_view version, std::string_view hash) {
  std::string tag = "\"";
  if (!version.empty()) {
    tag += version;
    tag += '-';
  }
  tag += hash;
  tag += '"';
  return tag;
}

HttpResponse plain_status(unsigned status, std::string_view text) {
  HttpResponse res;
  res.status = status;
  add_header(res, "Content-Type", "text/plain; charset=utf-8");
  add_header(res, "X-Content-Type-Options", "nosniff");
  res.body = std::string(text);
  res.body += '\n';
  return res;
}

HttpResponse not_found() {
  return plain_status(404, "Not Found");
}

HttpResponse method_not_allowed() {
  auto res = plain_status(405, "Method Not Allowed");
  add_header(res, "Allow", "GET, HEAD");
  return res;
}

HttpResponse too_busy() {
  auto res = plain_status(503, "Service Unavailable: too many file reads waiting");
  add_header(res, "Retry-After", "1");
  return res;
}

// "/docs" is a directory: send the browser to "/docs/" so that the page's relative links work.
HttpResponse moved_to_directory(const HttpRequest& request) {
  HttpResponse res;
  res.status = 301;
  // One leading slash only: "//host/dir" as a Location would send the browser to another site.
  const auto raw = path_of(request);
  const auto first = raw.find_first_not_of('/');
  std::string location = "/";
  if (first != std::string_view::npos) location += raw.substr(first);
  location += '/';
  if (const auto q = request.target.find('?'); q != std::string::npos) location += request.target.substr(q);
  add_header(res, "Location", std::move(location));
  add_header(res, "Content-Type", "text/plain; charset=utf-8");
  res.body = "Moved Permanently\n";
  return res;
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

 private:
  int fd_;
};

struct ReadResult {
  enum class Outcome { ok, missing, not_regular, too_large } outcome = Outcome::missing;
  struct ::stat st {};  // of the file read (fstat on the descriptor the bytes came from)
  std::string bytes;
};

// Reads a regular file whole; for the I/O threads only (it blocks). The caller's stat() said
// "regular file", but the path may name something else by now: O_NONBLOCK makes open() of a FIFO
// return at once (instead of waiting for a writer), and fstat() on what was opened decides.
ReadResult read_regular(const fs::path& file, std::size_t limit, const FileJobs& jobs) {
  ReadResult out;
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = ::open(file.c_str(), kFlags);
  // Only a file lease being broken (fcntl F_SETLEASE) says EWOULDBLOCK here: its holder has been
  // told to let go, and the kernel ends the wait itself after /proc/sys/fs/lease-break-time. Poll
  // rather than block in open(), so that a server stopping meanwhile is not held by it.
  while (fd < 0 && errno == EWOULDBLOCK && !jobs.stopping()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fd = ::open(file.c_str(), kFlags);
  }
  if (fd < 0) return out;
  const UniqueFd guard(fd);
  if (::fstat(fd, &out.st) != 0) return out;
  if (!S_ISREG(out.st.st_mode)) {
    out.outcome = ReadResult::Outcome::not_regular;
    return out;
  }
  if (static_cast<std::uintmax_t>(out.st.st_size) > limit) {
    out.outcome = ReadResult::Outcome::too_large;
    return out;
  }
  if (const int flags = ::fcntl(fd, F_GETFL); flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  std::size_t used = 0;
  out.bytes.resize(static_cast<std::size_t>(out.st.st_size));
  for (;;) {
    if (used == out.bytes.size()) {  // as large as fstat said: more only if it grew since
      if (used > limit) {
        out.outcome = ReadResult::Outcome::too_large;
        return out;
      }
      out.bytes.resize(std::min(limit + 1, used + 64 * 1024));
    }
    const auto n = ::read(fd, out.bytes.data() + used, out.bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return out;
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.bytes.resize(used);
  out.outcome = ReadResult::Outcome::ok;
  return out;
}

// Parses a q-value ("0", "0.5", "1.000") into thousandths; nullopt if malformed.
std::optional<int> parse_q(std::string_view v) noexcept {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return std::nullopt;
  int q = (v[0] - '0') * 1000;
  if (v.size() == 1) return q;
  if (v[1] != '.' || v.size() > 5) return std::nullopt;
  int scale = 100;
  for (std::size_t i = 2; i < v.size(); ++i, scale /= 10) {
    if (v[i] < '0' || v[i] > '9') return std::nullopt;
    q += (v[i] - '0') * scale;
  }
  return q <= 1000 ? std::optional<int>(q) : std::nullopt;
}

}  // namespace

Encoding choose_encoding(std::string_view accept_encoding, bool have_gzip, bool have_br) noexcept {
  constexpr int kUnlisted = -1;
  int q_br = kUnlisted, q_gzip = kUnlisted, q_identity = kUnlisted, q_star = kUnlisted;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto semi = element.find(';');
    const auto coding = trim(element.substr(0, semi));
    if (coding.empty()) continue;
    std::optional<int> q = 1000;
    for (auto params = semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
         !params.empty();) {
      const auto next = params.find(';');
      const auto param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
      const auto eq = param.find('=');
      if (eq != std::string_view::npos && same_token(trim(param.substr(0, eq)), "q"))
        q = parse_q(trim(param.substr(eq + 1)));
    }
    if (!q) continue;  // a malformed weight: ignore the element rather than guess
    int* slot = nullptr;
    if (same_token(coding, "br"))
      slot = &q_br;
    else if (same_token(coding, "gzip") || same_token(coding, "x-gzip"))
      slot = &q_gzip;
    else if (same_token(coding, "identity"))
      slot = &q_identity;
    else if (coding == "*")
      slot = &q_star;
    if (slot) *slot = std::max(*slot, *q);
  }

  auto effective = [&](int listed, bool available) {
    if (!available) return 0;
    return listed != kUnlisted ? listed : (q_star != kUnlisted ? q_star : 0);
  };
  const int br = effective(q_br, have_br);
  const int gzip = effective(q_gzip, have_gzip);
  // Unlisted identity stays acceptable but ranks below any coding the client did list (as Node's
  // `negotiator` does): "gzip;q=0.5" still means "gzip, please". Weights are doubled so that the
  // implicit identity's 1 sits below every listed positive weight.
  const int identity = q_identity != kUnlisted ? q_identity * 2 : (q_star != kUnlisted ? q_star * 2 : 1);
  const int br2 = br * 2, gzip2 = gzip * 2;
  if (br2 > 0 && br2 >= gzip2 && br2 >= identity) return Encoding::br;
  if (gzip2 > 0 && gzip2 >= identity) return Encoding::gzip;
  // Identity, even when refused: RFC 9110 lets a server ignore the header rather than send 406.
  return Encoding::identity;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept {
  auto s = trim(if_none_match);
  if (s == "*") return true;
  while (!s.empty()) {
    while (!s.empty() && (s.front() == ',' || s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    if (s.empty()) break;
    if (s.size() >= 2 && s[0] == 'W' && s[1] == '/') s.remove_prefix(2);
    if (s.empty() || s.front() != '"') return false;  // malformed: match nothing
    const auto close = s.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (s.substr(0, close + 1) == etag) return true;
    s.remove_prefix(close + 1);
  }
  return false;
}

StaticFiles::StaticFiles(StaticOptions options) : options_(std::move(options)) {
  auto& prefix = options_.client_prefix;
  if (prefix.empty() || prefix.front() != '/') prefix.insert(prefix.begin(), '/');
  if (prefix.back() != '/') prefix += '/';

  if (options_.serve_client) {
    if (options_.client_dir.empty()) {
      const auto table = embedded::client_bundle();
      client_version_ = table.version;
      for (const auto& f : table.files)
        bundle_.emplace(f.name, Entry{f.content_type, make_etag(client_version_, f.hash), view(f.data),
                                      view(f.gzip), view(f.br), nullptr});
    } else {
      // Read once at start-up: the files are small and never change while the server runs.
      const fs::path dir(options_.client_dir);
      client_version_ = read_package_version(dir);
      for (auto name : kBundleNames) {
        auto bytes = read_file(dir / name, options_.max_file_size);
        if (!bytes) continue;
        // Pre-compressed siblings (as some packagers ship) are used if present; nothing is
        // compressed here.
        auto gz = read_file(dir / (std::string(name) + ".gz"), options_.max_file_size);
        auto br = read_file(dir / (std::string(name) + ".br"), options_.max_file_size);
        auto owned = std::make_shared<std::string>();
        const std::size_t n = bytes->size(), ngz = gz ? gz->size() : 0, nbr = br ? br->size() : 0;
        owned->reserve(n + ngz + nbr);
        *owned += *bytes;
        if (gz) *owned += *gz;
        if (br) *owned += *br;
        const std::string_view all(*owned);
        bundle_.emplace(std::string(name),
                        Entry{content_type_for(name), make_etag(client_version_, hash_hex(*bytes)),
                              all.substr(0, n), all.substr(n, ngz), all.substr(n + ngz, nbr), owned});
      }
      if (!bundle_.contains("socket.io.js"))
        throw std::runtime_error("client_dir '" + options_.client_dir + "' has no readable socket.io.js");
    }
  }

  if (options_.serve_static) {
    if (options_.static_dir.empty()) {
      const auto table = embedded::chat_page();
      for (const auto& f : table.files)
        page_.emplace(f.name, Entry{f.content_type, make_etag({}, f.hash), view(f.data), view(f.gzip),
                                    view(f.br), nullptr});
    } else {
      std::error_code ec;
      static_root_ = fs::canonical(options_.static_dir, ec);
      if (ec || !fs::is_directory(static_root_, ec))
        throw std::runtime_error("static_dir '" + options_.static_dir + "' is not a readable directory");
      jobs_ = std::make_shared<FileJobs>(std::max<std::size_t>(options_.io_threads, 1), options_.max_pending);
      if (auto* m = options_.metrics) register_metrics(*m);
    }
  }
}

void StaticFiles::register_metrics(Metrics& m) {
  counters_.queue_full =
      m.counter("socketio_static_queue_full_total",
                "--static requests answered 503: --static-max-pending file jobs were waiting");
  constexpr std::string_view refused = "--static requests answered 404/403 without reading the file";
  counters_.not_regular = m.counter("socketio_static_refused_total", refused, {{"reason", "not_regular"}});
  counters_.too_large = m.counter("socketio_static_refused_total", refused, {{"reason", "too_large"}});
  counters_.abandoned =
      m.counter("socketio_static_abandoned_total",
                "--static file jobs skipped: the client left before an I/O thread took them");
  counters_.reads = m.counter("socketio_static_file_reads_total",
                              "--static files read from disk (not answered by the cache)");
  m.add_collector([jobs = jobs_](MetricsSink& sink) {
    sink.gauge("socketio_static_pending_jobs", "--static file jobs waiting for an I/O thread", {},
               static_cast<double>(jobs->pending()));
  });
}

StaticFiles::~StaticFiles() {
  if (jobs_) jobs_->stop();  // before the cache and counters its jobs use go
}

bool StaticFiles::matches(const HttpRequest& request) const {
  const auto path = path_of(request);
  const std::string_view prefix(options_.client_prefix);
  const bool under_prefix = path.starts_with(prefix);
  if (options_.serve_client && under_prefix && is_bundle_name(path.substr(prefix.size()))) return true;
  if (!options_.serve_static) return false;
  if (request.method != Method::get && request.method != Method::head) return false;
  // The prefix, with or without its slash, and everything under it belong to Engine.IO.
  if (under_prefix || path == prefix.substr(0, prefix.size() - 1)) return false;
  return true;
}

void StaticFiles::on_request(HttpRequest&& request, ResponderPtr responder) {
  const auto path = path_of(request);
  const std::string_view prefix(options_.client_prefix);
  if (options_.serve_client && path.starts_with(prefix) && is_bundle_name(path.substr(prefix.size())))
    return responder->respond(serve_bundle(request));
  if (!options_.serve_static || path.starts_with(prefix)) return responder->respond(not_found());
  if (static_root_.empty()) return responder->respond(serve_page(request));
  serve_directory(std::move(request), std::move(responder));
}

void StaticFiles::on_upgrade(WebSocketPtr ws) {
  auto res = not_found();
  res.close = true;
  ws->reject(std::move(res));
}

HttpResponse StaticFiles::serve_bundle(const HttpRequest& request) {
  if (request.method != Method::get && request.method != Method::head) return method_not_allowed();
  const auto name = path_of(request).substr(options_.client_prefix.size());
  const auto it = bundle_.find(name);
  if (it == bundle_.end()) {
    if (bundle_.empty() && !warned_missing_bundle_.exchange(true))
      spdlog::warn(
          "static: the Socket.IO client bundle is not built in (web/node_modules was missing when the "
          "build was configured: run `npm ci --prefix web` and rebuild); answering {} with 404",
          options_.client_prefix + "socket.io*.js");
    return not_found();
  }
  return serve(request, it->second, Kind::bundle);
}

HttpResponse StaticFiles::serve_page(const HttpRequest& request) {
  auto name = path_of(request);
  if (name.empty() || name.front() != '/') return not_found();  // "*" or an absolute-form target
  if (name == "/") name = "/index.html";
  const auto it = page_.find(name.substr(1));
  if (it == page_.end()) return not_found();
  return serve(request, it->second, Kind::page);
}

struct StaticFiles::FileJob {
  HttpRequest request;
  DirTarget target;
  ResponderPtr responder;
  // Set by the Responder's abort callback, which holds only this: no cycle through the job.
  std::shared_ptr<std::atomic<bool>> left = std::make_shared<std::atomic<bool>>(false);
};

// On the shard: string work and a cache lookup, never a file-system call.
void StaticFiles::serve_directory(HttpRequest&& request, ResponderPtr responder) {
  auto target = directory_target(request);
  if (!target) return responder->respond(not_found());
  if (request.method != Method::get && request.method != Method::head)
    return responder->respond(method_not_allowed());
  if (const auto entry = fresh(target->file.string()))
    return responder->respond(serve(request, *entry, Kind::file));

  auto job = std::make_shared<FileJob>(FileJob{std::move(request), std::move(*target), responder});
  responder->on_abort([left = job->left] { left->store(true, std::memory_order_relaxed); });
  const bool queued = jobs_->try_post([this, job] {
    if (job->left->load(std::memory_order_relaxed)) {
      counters_.abandoned.inc();
      return;
    }
    job->responder->respond(load(job->request, job->target));
  });
  if (queued) return;
  counters_.queue_full.inc();
  {
    std::lock_guard lock(log_mutex_);
    if (const auto n = queue_full_log_.due())
      spdlog::warn("limits: {} --static file reads waiting (--static-max-pending): 503, {} time(s)",
                   options_.max_pending, *n);
  }
  responder->respond(too_busy());
}

std::optional<StaticFiles::DirTarget> StaticFiles::directory_target(const HttpRequest& request) const {
  const auto raw = path_of(request);
  if (raw.empty() || raw.front() != '/') return std::nullopt;
  const auto decoded = core::percent_decode(raw);
  // NUL would cut the path short in the OS; a backslash is a separator on some systems and a
  // smuggling attempt on this one.
  if (!decoded || decoded->find('\0') != std::string::npos || decoded->find('\\') != std::string::npos)
    return std::nullopt;

  DirTarget target;
  std::string_view rest(*decoded);
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (segment.empty()) continue;
    // "..", "." and hidden files (.git, .env, ...) are never served.
    if (segment.front() == '.') return std::nullopt;
    target.file /= fs::path(std::string(segment));
  }
  target.wants_directory = decoded->back() == '/';
  if (target.wants_directory) target.file /= "index.html";
  return target;
}

// On an I/O thread: everything that touches the file system.
HttpResponse StaticFiles::load(const HttpRequest& request, const DirTarget& target) {
  const auto key = target.file.string();
  // Symlinks are resolved, then the result must still be inside the root.
  std::error_code ec;
  const auto resolved = fs::weakly_canonical(static_root_ / target.file, ec);
  struct ::stat st {};
  if (ec || !is_within(static_root_, resolved) || ::stat(resolved.c_str(), &st) != 0) {
    forget(key);
    return not_found();
  }
  if (S_ISDIR(st.st_mode)) return target.wants_directory ? not_found() : moved_to_directory(request);
  if (!S_ISREG(st.st_mode)) {  // a FIFO would block the reader; a device has no business here
    counters_.not_regular.inc();
    return not_found();
  }
  if (static_cast<std::uintmax_t>(st.st_size) > options_.max_file_size) {
    counters_.too_large.inc();
    return plain_status(403, "Forbidden: file too large to serve");
  }
  if (const auto entry = revalidate(key, FileId::of(st))) return serve(request, *entry, Kind::file);

  auto file = read_regular(resolved, options_.max_file_size, *jobs_);
  switch (file.outcome) {
    case ReadResult::Outcome::ok:
      break;
    case ReadResult::Outcome::not_regular:
      counters_.not_regular.inc();
      return not_found();
    case ReadResult::Outcome::too_large:
      counters_.too_large.inc();
      return plain_status(403, "Forbidden: file too large to serve");
    case ReadResult::Outcome::missing:
      return not_found();
  }
  counters_.reads.inc();
  auto owned = std::make_shared<const std::string>(std::move(file.bytes));
  auto entry = std::make_shared<const Entry>(Entry{content_type_for(resolved.filename().string()),
                                                   make_etag({}, hash_hex(*owned)),
                                                   *owned,
                                                   {},
                                                   {},
                                                   owned});
  const auto id = FileId::of(file.st);
  // A file that changed while it was read is served but not cached under that identity.
  if (owned->size() == id.size) remember(key, id, entry);
  return serve(request, *entry, Kind::file);
}

StaticFiles::FileId StaticFiles::FileId::of(const struct ::stat& st) noexcept {
  return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::shared_ptr<const StaticFiles::Entry> StaticFiles::fresh(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(cache_mutex_);
  const auto it = cache_.find(key);
  if (it == cache_.end() || now - it->second.checked >= options_.revalidate_after) return nullptr;
  it->second.last_use = ++cache_clock_;
  return it->second.entry;
}

std::shared_ptr<const StaticFiles::Entry> StaticFiles::revalidate(const std::string& key, const FileId& id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(cache_mutex_);
  const auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  if (it->second.id != id) {
    cache_used_ -= it->second.id.size;
    cache_.erase(it);
    return nullptr;
  }
  it->second.checked = now;
  it->second.last_use = ++cache_clock_;
  return it->second.entry;
}

void StaticFiles::forget(const std::string& key) {
  std::lock_guard lock(cache_mutex_);
  if (const auto it = cache_.find(key); it != cache_.end()) {
    cache_used_ -= it->second.id.size;
    cache_.erase(it);
  }
}

void StaticFiles::remember(const std::string& key, const FileId& id, std::shared_ptr<const Entry> entry) {
  if (id.size > options_.cache_bytes / 4) return;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(cache_mutex_);
  if (const auto it = cache_.find(key); it != cache_.end()) {
    cache_used_ -= it->second.id.size;
    cache_.erase(it);
  }
  while (cache_used_ + id.size > options_.cache_bytes && !cache_.empty()) {
    auto oldest = std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
      return a.second.last_use < b.second.last_use;
    });
    cache_used_ -= oldest->second.id.size;
    cache_.erase(oldest);
  }
  cache_.emplace(key, CachedFile{id, now, ++cache_clock_, std::move(entry)});
  cache_used_ += id.size;
}

HttpResponse StaticFiles::serve(const HttpRequest& request, const Entry& entry, Kind kind) const {
  if (request.method != Method::get && request.method != Method::head) return method_not_allowed();
  HttpResponse res;
  add_header(res, "ETag", entry.etag);
  // The bundle: revalidate each time, like the reference server (its ETag makes that a 304).
  // The page and --static files: no-cache, so that a new build's or an edited file is seen at once.
  add_header(res, "Cache-Control", kind == Kind::bundle ? "public, max-age=0" : "no-cache");
  const bool has_variants = !entry.gzip.empty() || !entry.br.empty();
  if (has_variants) add_header(res, "Vary", "Accept-Encoding");
  // A page on another origin may load the bundle with <script src>, also with crossorigin.
  if (kind == Kind::bundle) add_header(res, "Access-Control-Allow-Origin", "*");
  if (kind == Kind::page) add_header(res, "Content-Security-Policy", std::string(kPagePolicy));
  add_header(res, "X-Content-Type-Options", "nosniff");

  if (const auto inm = header_list(request, "If-None-Match"); inm && etag_matches(*inm, entry.etag)) {
    res.status = 304;
    return res;
  }

  std::string_view body = entry.identity;
  if (has_variants) {
    const auto accept = header_list(request, "Accept-Encoding");
    // A variant is only worth sending when it is smaller (tiny files can grow when compressed).
    const bool gzip_ok = !entry.gzip.empty() && entry.gzip.size() < entry.identity.size();
    const bool br_ok = !entry.br.empty() && entry.br.size() < entry.identity.size();
    switch (accept ? choose_encoding(*accept, gzip_ok, br_ok) : Encoding::identity) {
      case Encoding::br:
        body = entry.br;
        add_header(res, "Content-Encoding", "br");
        break;
      case Encoding::gzip:
        body = entry.gzip;
        add_header(res, "Content-Encoding", "gzip");
        break;
      case Encoding::identity:
        break;
    }
  }
  res.status = 200;
  add_header(res, "Content-Type", std::string(entry.content_type));
  if (request.method == Method::head)
    add_header(res, "Content-Length", std::to_string(body.size()));  // what GET would send; no body
  else
    res.shared_body = {entry.owned, body};  // no copy: the bytes live as long as the entry's owner
  return res;
}

}  // namespace socketio::net
