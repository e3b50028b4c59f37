// Unit tests for src/net/static_files: which requests StaticFiles claims (and which it leaves to
// Engine.IO), the bundle and chat page responses (types, ETag/304, content-coding negotiation,
// HEAD, 405, CORS), --client-dir and --static directories, and the refusal of every path
// traversal trick we know of. No sockets: requests go straight to on_request() (answer()).
#include "net/static_files.hpp"
#include "static_test_support.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace socketio::net {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

const std::vector<std::string> kBundle = {
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
};

bool have_embedded_bundle() {
  return !embedded::client_bundle().files.empty();
}

// ---- routing ----------------------------------------------------------------------------------

TEST(StaticFilesMatch, BundleRoutesAndNothingElseUnderThePrefix) {
  StaticFiles files({});
  for (const auto& name : kBundle) {
    EXPECT_TRUE(files.matches(get("/socket.io/" + name))) << name;
    EXPECT_TRUE(files.matches(request(Method::head, "/socket.io/" + name))) << name;
    // Other methods are ours too: they get a 405 rather than Engine.IO's error.
    EXPECT_TRUE(files.matches(request(Method::post, "/socket.io/" + name))) << name;
  }
  EXPECT_TRUE(files.matches(get("/socket.io/socket.io.js?v=4.8.4")));

  // Engine.IO's requests, and lookalikes of the bundle.
  for (const auto* target :
       {"/socket.io/", "/socket.io", "/socket.io/?EIO=4&transport=polling",
        "/socket.io/?EIO=4&transport=websocket&sid=abc", "/socket.io?EIO=4&transport=polling",
        "/socket.io/socket.io.jsx", "/socket.io/socket.io.esm.js", "/socket.io/foo.js",
        "/socket.io/socket.io.js/x", "/socket.io//socket.io.js", "/socket.io/SOCKET.IO.JS",
        "/socket.io/dist/socket.io.js"}) {
    EXPECT_FALSE(files.matches(get(target))) << target;
    EXPECT_FALSE(files.matches(request(Method::post, target))) << target;
  }
}

TEST(StaticFilesMatch, PageIsEveryGetOrHeadOutsideThePrefix) {
  StaticFiles files({});
  EXPECT_TRUE(files.matches(get("/")));
  EXPECT_TRUE(files.matches(get("/index.html")));
  EXPECT_TRUE(files.matches(get("/anything/else?x=1")));
  EXPECT_TRUE(files.matches(request(Method::head, "/")));
  EXPECT_FALSE(files.matches(request(Method::post, "/")));
  EXPECT_FALSE(files.matches(request(Method::options, "/")));
}

TEST(StaticFilesMatch, OptionsTurnRoutesOff) {
  StaticOptions no_client;
  no_client.serve_client = false;
  StaticFiles a(no_client);
  EXPECT_FALSE(a.matches(get("/socket.io/socket.io.js")));  // Engine.IO's 404 then
  EXPECT_TRUE(a.matches(get("/")));

  StaticOptions no_static;
  no_static.serve_static = false;
  StaticFiles b(no_static);
  EXPECT_TRUE(b.matches(get("/socket.io/socket.io.js")));
  EXPECT_FALSE(b.matches(get("/")));
  EXPECT_FALSE(b.matches(get("/index.html")));
}

TEST(StaticFilesMatch, CustomPrefix) {
  StaticOptions opts;
  opts.client_prefix = "/realtime";  // the missing slash is added
  StaticFiles files(opts);
  EXPECT_TRUE(files.matches(get("/realtime/socket.io.min.js")));
  EXPECT_FALSE(files.matches(get("/realtime/?EIO=4&transport=polling")));
  EXPECT_FALSE(files.matches(get("/realtime")));
  // The default prefix is nothing special any more: a page path like any other.
  EXPECT_TRUE(files.matches(get("/socket.io/socket.io.js")));
  EXPECT_EQ(answer(files, get("/socket.io/socket.io.js")).status, 404u);
}

// ---- the embedded bundle ----------------------------------------------------------------------

TEST(StaticFilesBundle, EveryFileWithItsHeaders) {
  StaticFiles files({});
  if (!have_embedded_bundle()) {
    // Built without web/node_modules: the routes are still ours, and answer 404.
    EXPECT_TRUE(files.matches(get("/socket.io/socket.io.js")));
    EXPECT_EQ(answer(files, get("/socket.io/socket.io.js")).status, 404u);
    EXPECT_EQ(answer(files, get("/socket.io/socket.io.js")).status, 404u);  // logged once only
    GTEST_SKIP() << "built without web/node_modules (run npm ci --prefix web)";
  }
  const std::string version = embedded::client_bundle().version;
  EXPECT_FALSE(version.empty());
  EXPECT_EQ(files.client_version(), version);
  for (const auto& name : kBundle) {
    SCOPED_TRACE(name);
    const auto res = answer(files, get("/socket.io/" + name));
    ASSERT_EQ(res.status, 200u);
    const bool map = name.ends_with(".map");
    EXPECT_EQ(header(res, "Content-Type"),
              map ? "application/json" : "application/javascript; charset=utf-8");
    EXPECT_EQ(header(res, "Cache-Control"), "public, max-age=0");
    EXPECT_EQ(header(res, "Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(header(res, "Vary"), "Accept-Encoding");
    EXPECT_EQ(header(res, "X-Content-Type-Options"), "nosniff");
    EXPECT_FALSE(header(res, "Content-Encoding"));
    const auto etag = header(res, "ETag");
    ASSERT_TRUE(etag);
    EXPECT_TRUE(etag->starts_with("\"" + version + "-")) << *etag;
    EXPECT_TRUE(etag->ends_with("\"")) << *etag;
    EXPECT_EQ(etag->size(), version.size() + 1 + 16 + 2) << *etag;
    EXPECT_EQ(res.payload(), read_all(fs::path(SIO_WEB_DIR) / "node_modules/socket.io-client/dist" / name));
  }
  // Each file has its own tag.
  EXPECT_NE(header(answer(files, get("/socket.io/socket.io.js")), "ETag"),
            header(answer(files, get("/socket.io/socket.io.min.js")), "ETag"));
  const auto js = answer(files, get("/socket.io/socket.io.js"));
  EXPECT_NE(js.payload().find("Socket.IO v" + version), std::string::npos);
}

TEST(StaticFilesBundle, ResponsesShareTheBytesInsteadOfCopying) {
  StaticFiles files({});
  const auto a = answer(files, get("/socket.io/socket.io.min.js", {{"Accept-Encoding", "br"}}));
  const auto b = answer(files, get("/socket.io/socket.io.min.js", {{"Accept-Encoding", "br"}}));
  ASSERT_EQ(a.status, 200u);
  ASSERT_FALSE(a.payload().empty());
  EXPECT_TRUE(a.body.empty()) << "the body is not copied into the response";
  EXPECT_EQ(a.payload().data(), b.payload().data()) << "both point into the embedded table";
  const auto page = answer(files, get("/"));
  EXPECT_EQ(page.payload().data(), answer(files, get("/index.html")).payload().data());
}

TEST(StaticFilesBundle, CompressedVariants) {
  if (!have_embedded_bundle()) GTEST_SKIP() << "built without web/node_modules (run npm ci --prefix web)";
  StaticFiles files({});
  const auto plain = answer(files, get("/socket.io/socket.io.min.js"));
  const auto gz = answer(files, get("/socket.io/socket.io.min.js", {{"Accept-Encoding", "gzip, deflate"}}));
  ASSERT_EQ(gz.status, 200u);
  EXPECT_EQ(header(gz, "Content-Encoding"), "gzip");
  ASSERT_GE(gz.payload().size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(gz.payload()[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz.payload()[1]), 0x8b);
  EXPECT_EQ(gz.payload()[4] | gz.payload()[5] | gz.payload()[6] | gz.payload()[7], 0)
      << "gzip -n: no time stamp";
  EXPECT_LT(gz.payload().size(), plain.payload().size() / 2);
  EXPECT_EQ(header(gz, "ETag"), header(plain, "ETag"));
  EXPECT_EQ(header(gz, "Content-Type"), header(plain, "Content-Type"));

  const auto br =
      answer(files, get("/socket.io/socket.io.min.js", {{"Accept-Encoding", "gzip, deflate, br"}}));
  EXPECT_EQ(header(br, "Content-Encoding"), "br");
  EXPECT_LT(br.payload().size(), gz.payload().size());  // quality 11 beats gzip -9 on JavaScript
}

TEST(StaticFilesBundle, IfNoneMatchGives304) {
  if (!have_embedded_bundle()) GTEST_SKIP() << "built without web/node_modules (run npm ci --prefix web)";
  StaticFiles files({});
  const auto first = answer(files, get("/socket.io/socket.io.js"));
  const auto etag = *header(first, "ETag");
  for (const auto& inm : {etag, "W/" + etag, "\"other\", " + etag, "\"a\",W/" + etag + " , \"b\"", "*"s}) {
    SCOPED_TRACE(inm);
    const auto res =
        answer(files, get("/socket.io/socket.io.js", {{"If-None-Match", inm}, {"Accept-Encoding", "br"}}));
    EXPECT_EQ(res.status, 304u);
    EXPECT_TRUE(res.payload().empty());
    EXPECT_EQ(header(res, "ETag"), etag);
    EXPECT_EQ(header(res, "Cache-Control"), "public, max-age=0");
    EXPECT_EQ(header(res, "Vary"), "Accept-Encoding");
    EXPECT_FALSE(header(res, "Content-Encoding"));
  }
  for (const auto& inm : {"\"other\""s, "\"" + etag + "\"", etag.substr(1), "W/"s, ""s}) {
    SCOPED_TRACE(inm);
    EXPECT_EQ(answer(files, get("/socket.io/socket.io.js", {{"If-None-Match", inm}})).status, 200u);
  }
  // The tag of another file does not match this one.
  const auto min_tag = *header(answer(files, get("/socket.io/socket.io.min.js")), "ETag");
  EXPECT_EQ(answer(files, get("/socket.io/socket.io.js", {{"If-None-Match", min_tag}})).status, 200u);
}

TEST(StaticFilesBundle, HeadHasHeadersAndNoBody) {
  if (!have_embedded_bundle()) GTEST_SKIP() << "built without web/node_modules (run npm ci --prefix web)";
  StaticFiles files({});
  for (const auto* enc : {"", "gzip", "br"}) {
    SCOPED_TRACE(enc);
    const std::vector<Header> h = {{"Accept-Encoding", enc}};
    const auto got = answer(files, get("/socket.io/socket.io.js", h));
    const auto head = answer(files, request(Method::head, "/socket.io/socket.io.js", h));
    EXPECT_EQ(head.status, 200u);
    EXPECT_TRUE(head.payload().empty());
    EXPECT_EQ(header(head, "Content-Length"), std::to_string(got.payload().size()));
    EXPECT_EQ(header(head, "Content-Type"), header(got, "Content-Type"));
    EXPECT_EQ(header(head, "Content-Encoding"), header(got, "Content-Encoding"));
    EXPECT_EQ(header(head, "ETag"), header(got, "ETag"));
    EXPECT_FALSE(header(got, "Content-Length")) << "GET leaves Content-Length to the HTTP layer";
  }
}

TEST(StaticFilesBundle, OtherMethodsGet405) {
  StaticFiles files({});
  for (auto m : {Method::post, Method::put, Method::options, Method::other}) {
    const auto res = answer(files, request(m, "/socket.io/socket.io.js"));
    EXPECT_EQ(res.status, 405u);
    EXPECT_EQ(header(res, "Allow"), "GET, HEAD");
  }
  // And on the page (if a router hands it over anyway).
  EXPECT_EQ(answer(files, request(Method::put, "/")).status, 405u);
}

// ---- content-coding negotiation ---------------------------------------------------------------

TEST(StaticFilesEncoding, ChooseEncoding) {
  struct Case {
    const char* accept;
    Encoding expected;
  };
  const Case cases[] = {
      {"", Encoding::identity},
      {"gzip", Encoding::gzip},
      {"br", Encoding::br},
      {"gzip, br", Encoding::br},  // equal q: br preferred
      {"br, gzip", Encoding::br},
      {"gzip, deflate, br, zstd", Encoding::br},
      {"BR", Encoding::br},
      {"x-gzip", Encoding::gzip},
      {"br;q=0.5, gzip", Encoding::gzip},
      {"br;q=0.5, gzip;q=0.4", Encoding::br},
      {"br;q=0, gzip", Encoding::gzip},  // q=0 refuses
      {"br;q=0, gzip;q=0", Encoding::identity},
      {"gzip;q=0.5", Encoding::gzip},  // unlisted identity ranks below anything listed
      {"br;q=0.8, identity;q=0.9", Encoding::identity},
      {"identity", Encoding::identity},
      {"identity, gzip", Encoding::gzip},
      {"*", Encoding::br},
      {"*;q=0.5, br;q=0.2", Encoding::gzip},
      {"*;q=0", Encoding::identity},  // nothing acceptable: identity anyway
      {"deflate", Encoding::identity},
      {" gzip ; q=1.000 ,br ; q=0.999", Encoding::gzip},
      {"br;q=1.5", Encoding::identity},  // malformed weights are ignored, not guessed
      {"br;q=abc, gzip;q=0.1", Encoding::gzip},
      {"br;level=5;q=0.3, gzip;q=0.2", Encoding::br},
      {",,, gzip ,", Encoding::gzip},
  };
  for (const auto& c : cases) EXPECT_EQ(choose_encoding(c.accept, true, true), c.expected) << c.accept;
  // Variants that do not exist are never chosen.
  EXPECT_EQ(choose_encoding("br", true, false), Encoding::identity);
  EXPECT_EQ(choose_encoding("br, gzip;q=0.1", true, false), Encoding::gzip);
  EXPECT_EQ(choose_encoding("*", false, false), Encoding::identity);
}

TEST(StaticFilesEncoding, EtagMatches) {
  EXPECT_TRUE(etag_matches("\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches("W/\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches(" \"x\" , W/\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches("*", "\"a\""));
  EXPECT_TRUE(etag_matches("\"x,y\", \"a\"", "\"a\""));  // commas inside a tag
  EXPECT_FALSE(etag_matches("\"b\"", "\"a\""));
  EXPECT_FALSE(etag_matches("a", "\"a\""));
  EXPECT_FALSE(etag_matches("\"a", "\"a\""));
  EXPECT_FALSE(etag_matches("", "\"a\""));
}

// ---- the embedded chat page -------------------------------------------------------------------

TEST(StaticFilesPage, EmbeddedChatPage) {
  StaticFiles files({});
  const auto root = answer(files, get("/"));
  ASSERT_EQ(root.status, 200u);
  EXPECT_EQ(header(root, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(root, "Cache-Control"), "no-cache");
  EXPECT_TRUE(header(root, "Content-Security-Policy"));
  EXPECT_FALSE(header(root, "Access-Control-Allow-Origin"));
  EXPECT_EQ(root.payload(), read_all(fs::path(SIO_WEB_DIR) / "chat/index.html"));
  EXPECT_NE(root.payload().find("/socket.io/socket.io.js"), std::string::npos);
  for (const auto* id :
       {"id=\"nick\"", "id=\"room\"", "id=\"join\"", "id=\"message\"", "id=\"send\"", "id=\"messages\"",
        "id=\"members\"", "id=\"transport\"", "id=\"secure\"", "id=\"status\""})
    EXPECT_NE(root.payload().find(id), std::string::npos) << id;

  EXPECT_EQ(answer(files, get("/index.html")).payload(), root.payload());
  EXPECT_EQ(header(answer(files, get("/index.html?x=1")), "ETag"), header(root, "ETag"));
  const auto js = answer(files, get("/app.js"));
  EXPECT_EQ(js.status, 200u);
  EXPECT_EQ(header(js, "Content-Type"), "application/javascript; charset=utf-8");
  EXPECT_EQ(js.payload(), read_all(fs::path(SIO_WEB_DIR) / "chat/app.js"));
  const auto css = answer(files, get("/style.css"));
  EXPECT_EQ(header(css, "Content-Type"), "text/css; charset=utf-8");

  for (const auto* missing :
       {"/favicon.ico", "/chat/index.html", "/index.htm", "/../index.html", "/app.js/", "", "*", "http://x/"})
    EXPECT_EQ(answer(files, get(missing)).status, 404u) << missing;
}

TEST(StaticFilesPage, NegotiatesAndRevalidates) {
  StaticFiles files({});
  const auto plain = answer(files, get("/"));
  const auto etag = *header(plain, "ETag");
  EXPECT_EQ(etag.size(), 18u) << etag;  // "<16 hex>"
  const auto br = answer(files, get("/", {{"Accept-Encoding", "gzip, br"}}));
  EXPECT_EQ(header(br, "Content-Encoding"), "br");
  EXPECT_LT(br.payload().size(), plain.payload().size());
  const auto gz = answer(files, get("/", {{"Accept-Encoding", "br;q=0"}, {"Accept-Encoding", "gzip"}}));
  EXPECT_EQ(header(gz, "Content-Encoding"), "gzip");
  const auto not_modified = answer(files, get("/", {{"if-none-match", etag}}));
  EXPECT_EQ(not_modified.status, 304u);
  EXPECT_TRUE(not_modified.payload().empty());
}

TEST(StaticFilesPage, UpgradeIsRejectedAndOnRequestResponds) {
  struct FakeResponder final : Responder {
    std::optional<HttpResponse> got;
    void respond(HttpResponse r) override { got = std::move(r); }
    void on_abort(AbortCallback) override {}
    std::size_t shard() const noexcept override { return 0; }
  };
  struct FakeWebSocket final : WebSocket {
    HttpRequest req = get("/");
    std::optional<HttpResponse> rejected;
    const HttpRequest& request() const noexcept override { return req; }
    std::size_t shard() const noexcept override { return 0; }
    void accept(std::weak_ptr<WebSocketHandler>, std::function<void(bool)>,
                std::vector<std::pair<std::string, std::string>>) override {
      FAIL();
    }
    void reject(HttpResponse r) override { rejected = std::move(r); }
    void send(WsFrame) override {}
    void send(std::vector<WsFrame>) override {}
    void close(std::uint16_t) override {}
    void abort() override {}
    std::size_t buffered_bytes() const noexcept override { return 0; }
  };
  StaticFiles files({});
  auto ws = std::make_shared<FakeWebSocket>();
  files.on_upgrade(ws);
  ASSERT_TRUE(ws->rejected);
  EXPECT_EQ(ws->rejected->status, 404u);
  EXPECT_TRUE(ws->rejected->close);

  auto responder = std::make_shared<FakeResponder>();
  files.on_request(get("/style.css"), responder);
  ASSERT_TRUE(responder->got);
  EXPECT_EQ(responder->got->status, 200u);
}

// ---- --client-dir -----------------------------------------------------------------------------

TEST(StaticFilesClientDir, LoadsTheBundleFromADirectory) {
  TempDir tmp;
  write_file(tmp.path() / "package.json", R"({"name": "socket.io-client", "version": "9.8.7"})");
  write_file(tmp.path() / "dist/socket.io.js", "/* fake bundle */");
  write_file(tmp.path() / "dist/socket.io.js.map", R"({"version":3})");
  write_file(tmp.path() / "dist/socket.io.js.gz", "not really gzip, but precompressed by the packager");
  StaticOptions opts;
  opts.client_dir = (tmp.path() / "dist").string();
  StaticFiles files(opts);
  EXPECT_EQ(files.client_version(), "9.8.7");

  const auto js = answer(files, get("/socket.io/socket.io.js"));
  ASSERT_EQ(js.status, 200u);
  EXPECT_EQ(js.payload(), "/* fake bundle */");
  EXPECT_TRUE(header(js, "ETag")->starts_with("\"9.8.7-"));
  EXPECT_EQ(header(js, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(js, "Vary"), "Accept-Encoding");
  // The precompressed sibling is bigger than the file: identity is sent even to gzip clients.
  EXPECT_FALSE(header(answer(files, get("/socket.io/socket.io.js", {{"Accept-Encoding", "gzip"}})),
                      "Content-Encoding"));

  const auto map = answer(files, get("/socket.io/socket.io.js.map"));
  EXPECT_EQ(header(map, "Content-Type"), "application/json");
  EXPECT_FALSE(header(map, "Vary"));                                          // no variants, nothing varies
  EXPECT_EQ(answer(files, get("/socket.io/socket.io.min.js")).status, 404u);  // not in that dir

  // Loaded at start-up: later changes on disk are not seen.
  write_file(tmp.path() / "dist/socket.io.js", "/* changed */");
  EXPECT_EQ(answer(files, get("/socket.io/socket.io.js")).payload(), "/* fake bundle */");
}

TEST(StaticFilesClientDir, BadDirectoriesThrowAtStartUp) {
  TempDir tmp;
  StaticOptions client;
  client.client_dir = (tmp.path() / "nope").string();
  EXPECT_THROW(StaticFiles{client}, std::runtime_error);
  StaticOptions dir;
  dir.static_dir = (tmp.path() / "nope").string();
  EXPECT_THROW(StaticFiles{dir}, std::runtime_error);
  write_file(tmp.path() / "file", "x");
  dir.static_dir = (tmp.path() / "file").string();
  EXPECT_THROW(StaticFiles{dir}, std::runtime_error);
}

// ---- --static DIR -----------------------------------------------------------------------------

class StaticDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "www";
    write_file(root_ / "index.html", "<h1>home</h1>");
    write_file(root_ / "sub/page.css", "body{}");
    write_file(root_ / "sub/data.bin", std::string("\x00\x01\x02", 3));
    write_file(root_ / "docs/index.html", "<h1>docs</h1>");
    write_file(root_ / "file with space.txt", "spaced");
    write_file(root_ / ".env", "SECRET=1");
    write_file(root_ / "big.bin", std::string(2048, 'x'));
    write_file(tmp_.path() / "secret.txt", "top secret");
    write_file(tmp_.path() / "www-private/key.txt", "private key");  // shares root's name as a prefix
    fs::create_symlink(tmp_.path() / "secret.txt", root_ / "link-out");
    fs::create_directory_symlink(tmp_.path() / "www-private", root_ / "dir-out");
    fs::create_symlink(root_ / "sub/page.css", root_ / "link-in.css");
    StaticOptions opts;
    opts.static_dir = root_.string();
    opts.max_file_size = 1024;
    opts.revalidate_after = std::chrono::milliseconds(0);  // every request checks the disk
    files_.emplace(opts);
  }

  HttpResponse fetch(const std::string& target) { return answer(*files_, get(target)); }

  TempDir tmp_;
  fs::path root_;
  std::optional<StaticFiles> files_;
};

TEST_F(StaticDir, ServesFiles) {
  const auto home = fetch("/");
  ASSERT_EQ(home.status, 200u);
  EXPECT_EQ(home.payload(), "<h1>home</h1>");
  EXPECT_EQ(header(home, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(home, "Cache-Control"), "no-cache");
  EXPECT_FALSE(header(home, "Content-Security-Policy")) << "the directory's pages are not ours to restrict";
  EXPECT_FALSE(header(home, "Vary"));

  EXPECT_EQ(fetch("/index.html").payload(), "<h1>home</h1>");
  EXPECT_EQ(fetch("/?q=1").payload(), "<h1>home</h1>");
  const auto css = fetch("/sub/page.css");
  EXPECT_EQ(css.payload(), "body{}");
  EXPECT_EQ(header(css, "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(header(fetch("/sub/data.bin"), "Content-Type"), "application/octet-stream");
  EXPECT_EQ(fetch("/sub/data.bin").payload().size(), 3u);
  EXPECT_EQ(fetch("/file%20with%20space.txt").payload(), "spaced");
  EXPECT_EQ(fetch("//sub//page.css").payload(), "body{}");
  EXPECT_EQ(fetch("/link-in.css").payload(), "body{}");  // a symlink that stays inside is fine
  EXPECT_EQ(fetch("/docs/").payload(), "<h1>docs</h1>");

  const auto redirect = fetch("/docs?x=1");
  EXPECT_EQ(redirect.status, 301u);
  EXPECT_EQ(header(redirect, "Location"), "/docs/?x=1");
  // Not a protocol-relative URL to another host.
  EXPECT_EQ(header(fetch("//docs"), "Location"), "/docs/");
  fs::create_directories(root_ / "odd/index.html");  // a directory where index.html should be
  EXPECT_EQ(fetch("/odd/").status, 404u);
  EXPECT_EQ(fetch("///").status, 200u);

  EXPECT_EQ(fetch("/missing.html").status, 404u);
  EXPECT_EQ(fetch("/sub/").status, 404u);  // a directory without index.html is not listed

  const auto head = answer(*files_, request(Method::head, "/sub/page.css"));
  EXPECT_TRUE(head.payload().empty());
  EXPECT_EQ(header(head, "Content-Length"), "6");

  const auto etag = *header(css, "ETag");
  EXPECT_EQ(answer(*files_, get("/sub/page.css", {{"If-None-Match", etag}})).status, 304u);
}

TEST_F(StaticDir, TooLargeIsRefused) {
  const auto res = fetch("/big.bin");
  EXPECT_EQ(res.status, 403u);
  EXPECT_EQ(res.payload().find('x'), std::string::npos);
}

TEST_F(StaticDir, TraversalIsRefused) {
  const std::vector<std::string> attempts = {
      "/../secret.txt",
      "/sub/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/.%2e/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/sub/%2e%2e/%2e%2e/secret.txt",
      "/..%5csecret.txt",
      "/..\\secret.txt",
      "/%5c..%5csecret.txt",
      "/sub\\..\\..\\secret.txt",
      "/index.html%00.css",
      "/%00",
      "/link-out",
      "/dir-out/key.txt",
      "/../www-private/key.txt",
      "/%2e%2e/www-private/key.txt",
      "/.env",
      "/%2eenv",
      "/sub/./page.css",
      "/%252e%252e/secret.txt",  // decoded once only: a file literally named "%2e%2e"
      "/%",
      "/%2",
      "/%zz/index.html",
      "/" + (tmp_.path() / "secret.txt").string(),  // "//tmp/.../secret.txt": still under the root
      "secret.txt",                                 // not origin-form
  };
  for (const auto& target : attempts) {
    SCOPED_TRACE(target);
    const auto res = fetch(target);
    EXPECT_EQ(res.status, 404u);
    EXPECT_EQ(res.payload().find("secret"), std::string::npos);
    EXPECT_EQ(res.payload().find("private"), std::string::npos);
  }
}

TEST_F(StaticDir, ChangedFilesAreSeen) {
  EXPECT_EQ(fetch("/sub/page.css").payload(), "body{}");
  const auto before = *header(fetch("/sub/page.css"), "ETag");
  write_file(root_ / "sub/page.css", "body{color:red}");
  // Same-second writes keep the mtime on some file systems: move it so the cache must notice.
  fs::last_write_time(root_ / "sub/page.css",
                      fs::last_write_time(root_ / "sub/page.css") + std::chrono::seconds(2));
  const auto after = fetch("/sub/page.css");
  EXPECT_EQ(after.payload(), "body{color:red}");
  EXPECT_NE(header(after, "ETag"), before);
  fs::remove(root_ / "sub/page.css");
  EXPECT_EQ(fetch("/sub/page.css").status, 404u);
}

TEST_F(StaticDir, CacheStaysWithinItsBudget) {
  // Many files through a cache of a few KiB: all served right, whatever got evicted.
  TempDir tmp;
  StaticOptions opts;
  opts.static_dir = tmp.path().string();
  opts.cache_bytes = 4096;
  opts.revalidate_after = std::chrono::milliseconds(0);
  for (int i = 0; i < 50; ++i)
    write_file(tmp.path() / ("f" + std::to_string(i) + ".txt"), std::string(500, char('a' + i % 26)));
  StaticFiles files(opts);
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 50; ++i)
      ASSERT_EQ(answer(files, get("/f" + std::to_string(i) + ".txt")).payload(),
                std::string(500, char('a' + i % 26)));
}

}  // namespace
}  // namespace socketio::net
