// What the StaticFiles unit tests share: requests, a Responder that waits for its answer (a
// --static request the cache cannot answer is answered from an I/O thread), scratch directories.
#pragma once

#include "net/static_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace socketio::net {

// Local instead of HttpResponse::header(), whose definition lives in sio_net (not linked here).
inline std::optional<std::string> header(const HttpResponse& res, const std::string& name) {
  for (const auto& h : res.headers) {
    if (h.name.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(h.name[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return h.value;
  }
  return std::nullopt;
}

inline HttpRequest request(Method method, std::string target, std::vector<Header> headers = {}) {
  HttpRequest req;
  req.method = method;
  switch (method) {
    case Method::get:
      req.method_name = "GET";
      break;
    case Method::head:
      req.method_name = "HEAD";
      break;
    case Method::post:
      req.method_name = "POST";
      break;
    case Method::put:
      req.method_name = "PUT";
      break;
    case Method::options:
      req.method_name = "OPTIONS";
      break;
    case Method::other:
      req.method_name = "DELETE";
      break;
  }
  req.target = std::move(target);
  req.headers = std::move(headers);
  return req;
}

inline HttpRequest get(std::string target, std::vector<Header> headers = {}) {
  return request(Method::get, std::move(target), std::move(headers));
}

inline std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// Records the one answer (from any thread) and the abort callback the handler registers.
class WaitingResponder final : public Responder {
 public:
  void respond(HttpResponse r) override {
    std::lock_guard lock(mutex_);
    if (got_) return;
    got_ = std::move(r);
    thread_ = std::this_thread::get_id();
    cv_.notify_all();
  }
  void on_abort(AbortCallback callback) override {
    std::lock_guard lock(mutex_);
    abort_ = std::move(callback);
  }
  std::size_t shard() const noexcept override { return 0; }

  std::optional<HttpResponse> wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return got_.has_value(); });
    return got_;
  }
  bool answered() {
    std::lock_guard lock(mutex_);
    return got_.has_value();
  }
  std::thread::id answered_on() {
    std::lock_guard lock(mutex_);
    return thread_;
  }
  // What the server does when the peer goes away first.
  void abort() {
    AbortCallback cb;
    {
      std::lock_guard lock(mutex_);
      cb = std::move(abort_);
    }
    if (cb) cb();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<HttpResponse> got_;
  std::thread::id thread_;
  AbortCallback abort_;
};

// One request through on_request(), waiting for its answer.
inline HttpResponse answer(StaticFiles& files, HttpRequest req) {
  auto responder = std::make_shared<WaitingResponder>();
  files.on_request(std::move(req), responder);
  auto res = responder->wait();
  if (!res) {
    ADD_FAILURE() << "no answer within 10 s";
    return {};
  }
  return std::move(*res);
}

// A unique scratch directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() / (std::string("sio_static_") + info->test_suite_name() +
                                                      "_" + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace socketio::net
