#include "adapter/redis/streams_transport.hpp"

#include "adapter/redis/streams_codec.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <mutex>
#include <unordered_set>

namespace socketio::redis {

namespace asio = boost::asio;
using cluster::ClusterMessage;
using cluster::MessageType;

namespace {

std::string_view text(const redisReply* r) {
  return r && r->type == REDIS_REPLY_STRING ? std::string_view(r->str, r->len) : std::string_view();
}

// socket.io-adapter's shouldIncludePacket: to everyone or one of the session's rooms, and none
// of its rooms excluded.
bool for_session(const BroadcastOptions& o, const std::vector<std::string>& rooms) {
  auto has = [](const std::vector<std::string>& set, const std::string& r) {
    return std::find(set.begin(), set.end(), r) != set.end();
  };
  bool included = o.rooms.empty();
  for (const auto& r : rooms) {
    if (has(o.except, r)) return false;
    if (!included && has(o.rooms, r)) included = true;
  }
  return included;
}

// A packet a restore found, kept until the restore knows where this node's delivery stands.
struct Candidate {
  StreamId id;
  bool own = false;
  std::shared_ptr<const MissedPacket> packet;
};

}  // namespace

class StreamsTransport final : public RedisTransport {
 public:
  StreamsTransport(std::shared_ptr<RedisHub> hub, const std::shared_ptr<cluster::ClusterCore>& core,
                   std::optional<RecoverySettings> recovery)
      : RedisTransport(std::move(hub), core),
        response_channel_(channel_ + core->uid() + "#"),
        nsp_(core->nsp()),
        uid_(core->uid()),
        recovery_(recovery),
        refresh_timer_(hub_.io()) {
    // XRANGE replies share the publisher connection: a batch of the largest messages stays well
    // under its reply limit.
    const auto& c = hub_.config();
    const std::size_t max_reply = std::max<std::size_t>(64 * 1024 * 1024, 4 * c.max_message_size);
    restore_batch_ =
        std::clamp<std::size_t>(max_reply / (2 * std::max<std::size_t>(c.max_message_size, 1)), 1, 100);
  }

  // --- cluster::Transport (any thread) ---
  void publish(const ClusterMessage& m) override {
    if (is_ephemeral(m)) {
      if (const auto keep = alive_.lock()) hub_.publish(channel_, encode_streams_pubsub(m));
      return;
    }
    xadd(m, nullptr);
  }
  void publish_with_offset(const ClusterMessage& m, std::function<void(std::string)> done) override {
    xadd(m, [done = std::move(done)](std::optional<StreamId> id) { done(id ? id->str() : std::string()); });
  }
  void publish_response(const std::string& requester, const ClusterMessage& m) override {
    if (const auto keep = alive_.lock()) hub_.publish(channel_ + requester + "#", encode_streams_pubsub(m));
  }
  void count_servers(std::function<void(std::int64_t)> done) override {
    count("NUMSUB", channel_, std::move(done));
  }
  std::string new_request_id() override { return hex_id(); }

  bool keeps_sessions() const override { return true; }
  void save_session(const PersistedSession& s) override;
  void persist_session(PersistedSession s) override;
  void drop_session(const std::string& pid) override;
  void restore_session(const std::string& pid, const std::string& offset,
                       std::function<void(std::optional<RestoredSession>)> done) override;

  // --- ChannelHandler (Redis thread) ---
  bool on_redis_message(std::string_view channel, std::string_view payload) override {
    if (channel != channel_ && channel != response_channel_) return false;
    deliver(cluster::decode_cluster_message(payload), "message");
    return true;
  }
  bool on_stream_entry(const StreamId& id, const FieldsView& fields) override {
    if (field_of(fields, "nsp") != nsp_) return false;
    deliver(decode_stream_entry(fields), "stream entry", id.str());
    return true;
  }
  void on_hub_closing() override {
    refresh_timer_.cancel();
    RedisTransport::on_hub_closing();
  }

 private:
  struct Restore;

  std::shared_ptr<StreamsTransport> self() {
    return std::static_pointer_cast<StreamsTransport>(shared_from_this());
  }
  void subscribe() override {
    hub_.subscribe(channel_);
    hub_.subscribe(response_channel_);
    if (recovery_) schedule_refresh();
  }
  void unsubscribe() override {
    hub_.unsubscribe(channel_);
    hub_.unsubscribe(response_channel_);
    refresh_timer_.cancel();
  }

  void xadd(const ClusterMessage& m, std::function<void(std::optional<StreamId>)> done);
  // A session write (SET, PEXPIRE, DEL) through the bounded queue, counted.
  void write_session(std::vector<std::string> argv);
  std::string session_key(const std::string& pid) const { return hub_.config().session_key_prefix + pid; }
  // While connected, a session outlives its node by the recovery window at least: it expires
  // window + refresh_period() after its last refresh.
  std::chrono::milliseconds refresh_period() const {
    return std::max<std::chrono::milliseconds>(recovery_->window / 2, std::chrono::seconds(1));
  }
  void schedule_refresh();
  void refresh(std::shared_ptr<std::vector<std::string>> pids, std::size_t from);

  void start_restore(const std::shared_ptr<Restore>& r);
  void check_offset(const std::shared_ptr<Restore>& r, std::string_view session);
  void wait_for_own(const std::shared_ptr<Restore>& r);
  void read_missed(const std::shared_ptr<Restore>& r);
  void on_missed(const std::shared_ptr<Restore>& r, const redisReply* reply, const StreamId& asked_to);
  void finish(const std::shared_ptr<Restore>& r, bool ok, std::string_view why = {});
  // Where this node's delivery stands: every entry up to it was handed to the shards (the reader's
  // position for the other nodes' entries, the last answered XADD for this node's own).
  std::optional<StreamId> cut() const;

  std::string response_channel_;
  std::string nsp_;
  std::string uid_;
  std::optional<RecoverySettings> recovery_;
  std::size_t restore_batch_ = 32;
  std::atomic<std::size_t> own_in_flight_{0};  // XADDs not answered yet
  std::optional<StreamId> own_last_;           // the last answered XADD (Redis thread)
  std::size_t restore_bytes_ = 0;              // missed bytes held by restores (Redis thread)
  asio::steady_timer refresh_timer_;           // Redis thread
  std::mutex live_mutex_;
  std::unordered_set<std::string> live_;  // pids of connected sockets whose session is saved
};

struct StreamsTransport::Restore {
  std::string pid;
  StreamId offset;
  std::function<void(std::optional<RestoredSession>)> done;
  std::chrono::steady_clock::time_point deadline;
  std::optional<PersistedSession> session;
  StreamId cursor;  // every entry up to it was read
  std::vector<Candidate> found;
  std::size_t bytes = 0;
  std::unique_ptr<asio::steady_timer> timer;
};

void StreamsTransport::xadd(const ClusterMessage& m, std::function<void(std::optional<StreamId>)> done) {
  const auto keep = alive_.lock();
  if (!keep) {
    if (done) done(std::nullopt);
    return;
  }
  const auto& c = hub_.config();
  auto entry = encode_stream_entry(m);
  std::vector<std::string> argv{"XADD", c.key, "MAXLEN", "~", std::to_string(c.stream_max_len), "*"};
  argv.reserve(argv.size() + 2 * entry.fields.size());
  for (auto& [k, v] : entry.fields) {
    argv.push_back(std::move(k));
    argv.push_back(std::move(v));
  }
  own_in_flight_.fetch_add(1, std::memory_order_relaxed);
  const bool queued = hub_.send(std::move(argv), [self = self(), done](const redisReply* r) {
    auto& counters = self->hub_.counters();
    const auto id = parse_stream_id(text(r));
    if (id) {
      counters.published.fetch_add(1, std::memory_order_relaxed);
      if (!self->own_last_ || *self->own_last_ < *id) self->own_last_ = id;
    } else {
      counters.publish_failed.fetch_add(1, std::memory_order_relaxed);
    }
    self->own_in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (done) done(id);
  });
  if (!queued) {
    own_in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (done) done(std::nullopt);
  }
}

void StreamsTransport::write_session(std::vector<std::string> argv) {
  const auto keep = alive_.lock();
  if (!keep) return;
  auto& counters = hub_.counters();
  const bool queued = hub_.send(std::move(argv), [&counters](const redisReply* r) {
    if (r && r->type != REDIS_REPLY_ERROR)
      counters.sessions_saved.fetch_add(1, std::memory_order_relaxed);
    else
      counters.session_writes_failed.fetch_add(1, std::memory_order_relaxed);
  });
  if (!queued) counters.session_writes_failed.fetch_add(1, std::memory_order_relaxed);
}

void StreamsTransport::save_session(const PersistedSession& s) {
  if (!recovery_) return;
  {
    std::lock_guard lock(live_mutex_);
    live_.insert(s.pid);
  }
  const auto ttl = recovery_->window + refresh_period();
  write_session({"SET", session_key(s.pid), encode_session(s), "PX", std::to_string(ttl.count())});
}

void StreamsTransport::persist_session(PersistedSession s) {
  if (!recovery_) return;
  {
    std::lock_guard lock(live_mutex_);
    live_.erase(s.pid);
  }
  // As the reference: the session, for the recovery window from now.
  write_session(
      {"SET", session_key(s.pid), encode_session(s), "PX", std::to_string(recovery_->window.count())});
}

void StreamsTransport::drop_session(const std::string& pid) {
  if (!recovery_) return;
  {
    std::lock_guard lock(live_mutex_);
    live_.erase(pid);
  }
  write_session({"DEL", session_key(pid)});
}

void StreamsTransport::schedule_refresh() {
  refresh_timer_.expires_after(refresh_period());
  refresh_timer_.async_wait([w = std::weak_ptr<StreamsTransport>(self())](boost::system::error_code ec) {
    auto self = w.lock();
    if (ec || !self) return;
    std::shared_ptr<std::vector<std::string>> pids;
    {
      std::lock_guard lock(self->live_mutex_);
      pids = std::make_shared<std::vector<std::string>>(self->live_.begin(), self->live_.end());
    }
    self->refresh(std::move(pids), 0);
    self->schedule_refresh();
  });
}

void StreamsTransport::refresh(std::shared_ptr<std::vector<std::string>> pids, std::size_t from) {
  // A thousand at a time, the next batch once Redis answered the last: a node with many sockets
  // never fills the publish queue with refreshes.
  constexpr std::size_t kBatch = 1000;
  const std::size_t end = std::min(pids->size(), from + kBatch);
  if (from >= end) return;
  const std::string ttl = std::to_string((recovery_->window + refresh_period()).count());
  for (std::size_t i = from; i < end; ++i) {
    const bool last = i + 1 == end;
    auto argv = std::vector<std::string>{"PEXPIRE", session_key((*pids)[i]), ttl};
    const bool queued = hub_.send(std::move(argv), [self = self(), pids, end, last](const redisReply* r) {
      if (!r || r->type == REDIS_REPLY_ERROR)
        self->hub_.counters().session_writes_failed.fetch_add(1, std::memory_order_relaxed);
      if (last && r) self->refresh(pids, end);
    });
    if (!queued) hub_.counters().session_writes_failed.fetch_add(1, std::memory_order_relaxed);
  }
}

std::optional<StreamId> StreamsTransport::cut() const {
  const auto& read = hub_.reader()->position();
  if (!read) return own_last_;
  if (!own_last_) return read;
  return std::max(*read, *own_last_);
}

void StreamsTransport::restore_session(const std::string& pid, const std::string& offset,
                                       std::function<void(std::optional<RestoredSession>)> done) {
  const auto id = parse_stream_id(offset);
  const auto keep = alive_.lock();
  if (!recovery_ || !id || pid.empty() || pid.size() > cluster::kMaxIdLength || !keep) {
    hub_.counters().restores_failed.fetch_add(1, std::memory_order_relaxed);
    return done(std::nullopt);
  }
  auto r = std::make_shared<Restore>();
  r->pid = pid;
  r->offset = *id;
  r->cursor = *id;
  r->done = std::move(done);
  r->deadline = std::chrono::steady_clock::now() + hub_.config().requests_timeout;
  hub_.post([self = self(), r] { self->start_restore(r); });
}

void StreamsTransport::start_restore(const std::shared_ptr<Restore>& r) {
  // As the reference: the session is taken (GET + DEL in one transaction, as GETDEL needs Redis
  // 6.2), then the client's offset must still be in the stream. On a Redis Cluster, GETDEL: the
  // key's master answers it alone (a transaction would need every command on one connection).
  const std::string key = session_key(r->pid);
  auto self = this->self();
  auto taken = [self, r](std::string_view value) {
    if (!self->hub_.closing()) self->check_offset(r, value);
  };
  bool sent = false;
  if (hub_.config().cluster) {
    sent = hub_.command({"GETDEL", key}, [taken](const redisReply* reply) { taken(text(reply)); });
  } else {
    sent = hub_.command({"MULTI"}, {}) && hub_.command({"GET", key}, {}) && hub_.command({"DEL", key}, {});
    sent = sent && hub_.command({"EXEC"}, [taken](const redisReply* reply) {
      const bool ok = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2;
      taken(ok ? text(reply->element[0]) : std::string_view());
    });
  }
  if (!sent) finish(r, false, "Redis is unreachable");
}

void StreamsTransport::check_offset(const std::shared_ptr<Restore>& r, std::string_view session) {
  if (!session.empty() && session.size() <= hub_.config().max_message_size)
    r->session = decode_session(session);
  if (!r->session) return finish(r, false, "no session");
  const std::string offset = r->offset.str();
  const bool sent = hub_.command(
      {"XRANGE", hub_.config().key, offset, offset}, [self = self(), r](const redisReply* reply) {
        if (self->hub_.closing()) return;
        const bool found = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0;
        if (!found) return self->finish(r, false, "offset no longer in the stream");
        // Every entry up to the client's offset must have reached this node's sockets before the
        // recovered socket joins its rooms: else it would get them again, live.
        self->hub_.reader()->when_reached(r->offset, r->deadline, [self, r](bool reached) {
          if (!reached) return self->finish(r, false, "the stream reader is behind");
          self->wait_for_own(r);
        });
      });
  if (!sent) finish(r, false, "Redis is unreachable");
}

void StreamsTransport::wait_for_own(const std::shared_ptr<Restore>& r) {
  // Likewise for this node's own entries, delivered here when their XADD is answered (in order).
  if (own_in_flight_.load(std::memory_order_relaxed) == 0 || (own_last_ && *own_last_ >= r->offset))
    return read_missed(r);
  if (std::chrono::steady_clock::now() >= r->deadline) return finish(r, false, "XADDs unanswered");
  r->timer = std::make_unique<asio::steady_timer>(hub_.io(), std::chrono::milliseconds(5));
  r->timer->async_wait([self = self(), r](boost::system::error_code ec) {
    if (!ec) self->wait_for_own(r);
  });
}

void StreamsTransport::read_missed(const std::shared_ptr<Restore>& r) {
  const auto to = cut();
  if (!to || r->cursor >= *to) return finish(r, true);
  if (std::chrono::steady_clock::now() >= r->deadline) return finish(r, false, "timed out");
  const StreamId asked_to = *to;
  const bool sent = hub_.command({"XRANGE", hub_.config().key, r->cursor.next().str(), asked_to.str(),
                                  "COUNT", std::to_string(restore_batch_)},
                                 [self = self(), r, asked_to](const redisReply* reply) {
                                   if (self->hub_.closing()) return;
                                   self->on_missed(r, reply, asked_to);
                                 });
  if (!sent) finish(r, false, "Redis is unreachable");
}

void StreamsTransport::on_missed(const std::shared_ptr<Restore>& r, const redisReply* reply,
                                 const StreamId& asked_to) {
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return finish(r, false, "XRANGE failed");
  const std::size_t limit = recovery_->max_bytes;
  FieldsView fields;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const auto* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    const auto id = parse_stream_id(text(e->element[0]));
    if (!id) continue;
    r->cursor = std::max(r->cursor, *id);
    fields.clear();
    std::size_t bytes = 0;
    if (const auto* f = e->element[1]; f->type == REDIS_REPLY_ARRAY)
      for (std::size_t j = 0; j + 1 < f->elements; j += 2) {
        fields.emplace_back(text(f->element[j]), text(f->element[j + 1]));
        bytes += f->element[j]->len + f->element[j + 1]->len;
      }
    // Broadcasts of this namespace only, as the reference (the other kinds are not packets).
    if (field_of(fields, "nsp") != nsp_ || field_of(fields, "type") != "3" ||
        bytes > hub_.config().max_message_size)
      continue;
    auto m = decode_stream_entry(fields);
    if (!m || !m->request_id.empty() || m->opts.flags.volatile_ || !for_session(m->opts, r->session->rooms))
      continue;
    if (restore_bytes_ + bytes > limit)
      return finish(r, false, "over --recovery-max-bytes of missed packets");
    restore_bytes_ += bytes;
    r->bytes += bytes;
    auto p = std::make_shared<MissedPacket>();
    p->data = std::move(m->packet.data);
    p->data.emplace_back(id->str());
    p->attachments = std::move(m->packet.attachments);
    r->found.push_back({*id, m->uid == uid_, std::move(p)});
  }
  // A short batch read everything up to what was asked.
  if (reply->elements < restore_batch_) r->cursor = std::max(r->cursor, asked_to);
  read_missed(r);
}

void StreamsTransport::finish(const std::shared_ptr<Restore>& r, bool ok, std::string_view why) {
  restore_bytes_ -= r->bytes;
  auto& counters = hub_.counters();
  if (!ok) {
    counters.restores_failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::log(why == "no session" ? spdlog::level::debug : spdlog::level::info,
                "redis streams: session {} not recovered: {}", r->pid, why);
    return r->done(std::nullopt);
  }
  // Handed over exactly where this node's delivery stands (the shards get the socket after every
  // entry up to here and before any later one): a packet the other nodes sent is replayed if the
  // reader has handed it out, one of this node's if its XADD was answered; the others reach the
  // socket live.
  RestoredSession s;
  s.session = std::move(*r->session);
  const auto& read = hub_.reader()->position();
  for (auto& c : r->found)
    if (c.own ? (own_last_ && c.id <= *own_last_) : (read && c.id <= *read))
      s.missed.push_back(std::move(c.packet));
  counters.sessions_restored.fetch_add(1, std::memory_order_relaxed);
  r->done(std::move(s));
}

std::shared_ptr<RedisTransport> make_streams_transport(std::shared_ptr<RedisHub> hub,
                                                       const std::shared_ptr<cluster::ClusterCore>& core,
                                                       std::optional<RecoverySettings> recovery) {
  return std::make_shared<StreamsTransport>(std::move(hub), core, recovery);
}

}  // namespace socketio::redis
