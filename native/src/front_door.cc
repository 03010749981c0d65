#include "front_door.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <vector>

#include "addon_state.h"
#include "core/dup_socket.h"
#include "core/front/request_head.h"
#include "core/progress.h"
#include "core/pump.h"

namespace sluice {

namespace {

// Longest request head looked at; longer ones are Node's (the parser says
// so before this is reached).
constexpr size_t kPeekBytes = 8192;

using core::front::Reply;

uint64_t ReadOption(const Napi::Object& opts, const char* name,
                    uint64_t fallback) {
  Napi::Value v = opts.Get(name);
  if (!v.IsNumber()) return fallback;
  double d = v.As<Napi::Number>().DoubleValue();
  return d >= 0 ? static_cast<uint64_t>(d) : fallback;
}

// A ReplyCache bound from the constructor's options (its second argument).
size_t CacheOption(const Napi::CallbackInfo& info, const char* name,
                   uint64_t fallback) {
  if (!info[1].IsObject()) return fallback;
  return ReadOption(info[1].As<Napi::Object>(), name, fallback);
}

Napi::FunctionReference ReadCallback(const Napi::Object& from,
                                     const char* name) {
  Napi::Value v = from.Get(name);
  if (!v.IsFunction()) {
    Napi::TypeError::New(from.Env(), std::string("The \"") + name +
                                         "\" callback must be a function")
        .ThrowAsJavaScriptException();
    return Napi::FunctionReference();
  }
  return Napi::Persistent(v.As<Napi::Function>());
}

// Drops the `length` bytes of an answered request head from the socket:
// they were only peeked at. MSG_TRUNC on TCP discards without copying.
bool Consume(int fd, uint32_t length) {
  for (;;) {
    ssize_t n = recv(fd, nullptr, length, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(length);
  }
}

// Whether request bytes are waiting in the socket.
bool HasPending(int fd) {
  char byte;
  ssize_t n;
  do {
    n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// Drops request bytes nobody will answer before the socket is closed: a
// close with unread bytes makes the kernel send RST, which can destroy the
// tail of the reply still on its way. (Node reads such bytes into its own
// buffer first, so it ends with a FIN.) Bounded: a client that keeps
// sending gets its RST.
void DiscardPending(int fd) {
  for (int i = 0; i < 16; i++) {
    ssize_t n = recv(fd, nullptr, 1 << 16, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
  }
}

}  // namespace

// Access log lines go to onLog once this much is held, or this long after
// the first of them was.
constexpr size_t kLogFlushBytes = 64 * 1024;
constexpr uint64_t kLogFlushMs = 200;

struct FrontDoor::Conn {
  enum class State { kReading, kAsking, kWriting, kGone };
  FrontDoor* door;
  int64_t id;
  int fd;
  uv_poll_t poll;
  State state = State::kReading;
  int watching = 0;
  // When the current wait ends (uv_now ms); 0: no deadline.
  uint64_t deadline_ms = 0;
  bool served_one = false;
  std::shared_ptr<const Reply> reply;
  core::front::ReplyCursor cursor;
  // The head JS was asked about, and its length in the socket.
  std::string asked_key;
  uint32_t asked_length = 0;
  // What JS is told once the poll handle has closed.
  std::string reason;
  // The token of a reply whose file shrank while sent (0: none).
  double shrunk = 0;
  bool to_node = false;
  // While sends are reported: the request head of the reply in flight, and
  // what that reply sent once it ended (reported when `sent_noted`).
  std::string sent_head;
  bool sent_noted = false;
  int sent_status = 0;
  uint64_t sent_bytes = 0;
  // When the head of the request being answered was read (uv_now ms), and
  // how long its reply took to its last byte.
  uint64_t request_at = 0;
  uint64_t sent_ms = 0;
  // While sends are tallied: when the head was read (uv_hrtime ns), and
  // whether the request is a HEAD.
  uint64_t request_ns = 0;
  bool is_head = false;
  // The client's address as Node names it (adopt's second argument), for
  // the access log.
  std::string remote;
};

// classifyRequestHead(buffer) -> { status, headLength, isHead, minorVersion }:
// the front door's verdict on a request head, for the differential test
// against Node's own parser. status: 'plain' | 'incomplete' | 'handover'.
Napi::Value ClassifyRequestHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) {
    Napi::TypeError::New(env, "classifyRequestHead(buffer)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto bytes = info[0].As<Napi::Buffer<uint8_t>>();
  core::front::RequestHead head;
  core::front::HeadStatus status =
      core::front::ParseRequestHead(bytes.Data(), bytes.Length(), &head);
  Napi::Object out = Napi::Object::New(env);
  out.Set("status", status == core::front::HeadStatus::kPlain ? "plain"
                    : status == core::front::HeadStatus::kIncomplete
                        ? "incomplete"
                        : "handover");
  out.Set("headLength", static_cast<double>(head.head_length));
  out.Set("isHead", head.is_head);
  out.Set("minorVersion", head.minor_version);
  return out;
}

Napi::Function FrontDoor::Define(Napi::Env env) {
  return DefineClass(
      env, "FrontDoor",
      {InstanceMethod<&FrontDoor::Adopt>("adopt"),
       InstanceMethod<&FrontDoor::Answer>("answer"),
       InstanceMethod<&FrontDoor::HandOver>("handOver"),
       InstanceMethod<&FrontDoor::CloseIdle>("closeIdle"),
       InstanceMethod<&FrontDoor::Drain>("drain"),
       InstanceMethod<&FrontDoor::CloseAll>("closeAll"),
       InstanceMethod<&FrontDoor::ClearReplies>("clearReplies"),
       InstanceMethod<&FrontDoor::Stats>("stats"),
       InstanceMethod<&FrontDoor::ReportSends>("reportSends"),
       InstanceMethod<&FrontDoor::TallySends>("tallySends"),
       InstanceMethod<&FrontDoor::SendTally>("sendTally"),
       InstanceMethod<&FrontDoor::PassThrough>("passThrough"),
       InstanceMethod<&FrontDoor::SetKeepAlive>("setKeepAlive"),
       InstanceMethod<&FrontDoor::LogReplies>("logReplies"),
       InstanceMethod<&FrontDoor::TakeLogLines>("takeLogLines")});
}

// new FrontDoor({ onMiss(id, head), onHandOver(id), onClosed(id, reason) },
//               { keepAliveMs, firstRequestMs, sendTimeoutMs, maxChunk,
//                 maxEntries, maxBytes, maxFiles })
FrontDoor::FrontDoor(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<FrontDoor>(info),
      loop_(GetState(info.Env())->loop),
      replies_(CacheOption(info, "maxEntries", 4096),
               CacheOption(info, "maxBytes", 64 << 20),
               CacheOption(info, "maxFiles", 256)) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsObject()) {
    Napi::TypeError::New(env, "FrontDoor(callbacks, options) takes two objects")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Object callbacks = info[0].As<Napi::Object>();
  Napi::Object opts = info[1].As<Napi::Object>();
  on_miss_ = ReadCallback(callbacks, "onMiss");
  if (env.IsExceptionPending()) return;
  on_hand_over_ = ReadCallback(callbacks, "onHandOver");
  if (env.IsExceptionPending()) return;
  on_closed_ = ReadCallback(callbacks, "onClosed");
  if (env.IsExceptionPending()) return;
  if (callbacks.Get("onSent").IsFunction()) {
    on_sent_ = ReadCallback(callbacks, "onSent");
  }
  context_ = std::make_unique<Napi::AsyncContext>(env, "sluice:frontDoor");
  keep_alive_ms_ = ReadOption(opts, "keepAliveMs", 5000);
  first_request_ms_ = ReadOption(opts, "firstRequestMs", 1000);
  send_timeout_ms_ = ReadOption(opts, "sendTimeoutMs", 0);
  max_chunk_ = std::max<uint64_t>(ReadOption(opts, "maxChunk", 2 << 20), 1);
}

FrontDoor::~FrontDoor() {
  // Garbage-collected with connections left (JS dropped the server without
  // closing it): no JS is told, each duplicate is still closed.
  for (auto& entry : conns_) {
    Conn* c = entry.second;
    c->door = nullptr;
    c->state = Conn::State::kGone;
    uv_poll_stop(&c->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), OnConnClosed);
  }
  conns_.clear();
  if (tick_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(tick_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  if (log_timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(log_timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
}

// adopt(fd, remoteAddress?) -> a connection id (> 0), or -errno when no
// duplicate or poll could be made (JS then gives the connection to Node as
// it is). remoteAddress is what the access log names the client.
Napi::Value FrontDoor::Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "adopt(fd) takes a file descriptor")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int dup_fd = core::DupSocket(info[0].As<Napi::Number>().Int32Value());
  if (dup_fd < 0) return Napi::Number::New(env, dup_fd);
  // Node's HTTP server sets TCP_NODELAY on its sockets; so does this side
  // (MSG_MORE still joins a head to the start of its file).
  int one = 1;
  setsockopt(dup_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  Conn* c = new Conn();
  c->door = this;
  c->id = next_id_++;
  c->fd = dup_fd;
  if (info[1].IsString()) c->remote = info[1].As<Napi::String>().Utf8Value();
  int rc = uv_poll_init(loop_, &c->poll, dup_fd);
  if (rc != 0) {
    close(dup_fd);
    delete c;
    return Napi::Number::New(env, rc);
  }
  c->poll.data = c;
  conns_[c->id] = c;
  c->deadline_ms = first_request_ms_ ? uv_now(loop_) + first_request_ms_ : 0;
  Watch(c, UV_READABLE);
  StartTicking();
  return Napi::Number::New(env, static_cast<double>(c->id));
}

// answer(id, head, inlineBody | null, fileFd, offset, length, closeAfter,
//        publishMs, token) -> whether the reply was taken. Answers the head
// JS was asked about; publishMs > 0 keeps the reply for later requests with
// the same head bytes, for that long; token names it in onClosed.
Napi::Value FrontDoor::Answer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = Find(info);
  if (c == nullptr || c->state != Conn::State::kAsking) {
    return Napi::Boolean::New(env, false);
  }
  if (!info[1].IsBuffer() || !info[3].IsNumber() || !info[4].IsNumber() ||
      !info[5].IsNumber() || !info[7].IsNumber() || !info[8].IsNumber()) {
    Napi::TypeError::New(env, "answer(): bad arguments")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto head = info[1].As<Napi::Buffer<char>>();
  std::string inline_body;
  if (info[2].IsBuffer()) {
    auto b = info[2].As<Napi::Buffer<char>>();
    inline_body.assign(b.Data(), b.Length());
  }
  int file_fd = info[3].As<Napi::Number>().Int32Value();
  if (file_fd >= 0) {
    file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
    if (file_fd < 0) return Napi::Boolean::New(env, false);
  }
  auto reply = std::make_shared<const Reply>(
      std::string(head.Data(), head.Length()), std::move(inline_body), file_fd,
      static_cast<int64_t>(info[4].As<Napi::Number>().Int64Value()),
      static_cast<uint64_t>(info[5].As<Napi::Number>().Int64Value()),
      info[6].ToBoolean().Value(), info[8].As<Napi::Number>().DoubleValue());
  double publish_ms = info[7].As<Napi::Number>().DoubleValue();
  if (publish_ms > 0) {
    uint64_t now = uv_now(loop_);
    replies_.Insert(c->asked_key, reply,
                    now + static_cast<uint64_t>(publish_ms), now);
  }
  counters_.answered++;
  Serve(c, std::move(reply), c->asked_key);
  return Napi::Boolean::New(env, true);
}

// handOver(id): JS could not answer the head it was asked about; the
// connection goes to Node with every byte still in the socket.
Napi::Value FrontDoor::HandOver(const Napi::CallbackInfo& info) {
  Conn* c = Find(info);
  bool ok = c != nullptr && c->state == Conn::State::kAsking;
  if (ok) Release(c, "handover", true);
  return Napi::Boolean::New(info.Env(), ok);
}

// closeIdle() -> how many connections between requests were closed (as
// http.Server#closeIdleConnections does for Node's).
Napi::Value FrontDoor::CloseIdle(const Napi::CallbackInfo& info) {
  std::vector<Conn*> idle;
  for (auto& entry : conns_) {
    if (entry.second->state == Conn::State::kReading)
      idle.push_back(entry.second);
  }
  for (Conn* c : idle) Release(c, "server", false);
  return Napi::Number::New(info.Env(), static_cast<double>(idle.size()));
}

// drain(): the server is closing. Idle connections close now, the others
// after the reply they are sending (as Node ends its own connections once
// server.close() was called).
Napi::Value FrontDoor::Drain(const Napi::CallbackInfo& info) {
  draining_ = true;
  return CloseIdle(info);
}

Napi::Value FrontDoor::CloseAll(const Napi::CallbackInfo& info) {
  std::vector<Conn*> all;
  for (auto& entry : conns_) all.push_back(entry.second);
  for (Conn* c : all) Release(c, "server", false);
  return Napi::Number::New(info.Env(), static_cast<double>(all.size()));
}

Napi::Value FrontDoor::ClearReplies(const Napi::CallbackInfo& info) {
  replies_.Clear();
  return info.Env().Undefined();
}

// reportSends(on): whether onSent hears of every reply sent here (the
// access log); off, nothing is copied for it.
Napi::Value FrontDoor::ReportSends(const Napi::CallbackInfo& info) {
  report_sends_ = !on_sent_.IsEmpty() && info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

// setKeepAlive(ms): the idle time between requests (the server's
// keepAliveTimeout, which users often set after creating the server); it
// applies from each connection's next wait.
Napi::Value FrontDoor::SetKeepAlive(const Napi::CallbackInfo& info) {
  if (info[0].IsNumber() && info[0].As<Napi::Number>().DoubleValue() >= 0) {
    keep_alive_ms_ =
        static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  }
  return info.Env().Undefined();
}

// logReplies({ format: 'combined' | 'json', health }, onLog(lines)) makes
// the access log line of every reply sent from now on here, and gives the
// lines to onLog (a Buffer of whole lines) in batches (see logging_);
// logReplies(null) stops. health: a path whose answers are not logged.
Napi::Value FrontDoor::LogReplies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    FlushLog();
    logging_ = false;
    on_log_.Reset();
    return env.Undefined();
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Value format = opts.Get("format");
  Napi::Value health = opts.Get("health");
  if (!info[1].IsFunction() || !format.IsString() ||
      !(health.IsString() || health.IsUndefined() || health.IsNull())) {
    Napi::TypeError::New(env,
                         "logReplies({ format, health }, onLog) takes a format "
                         "string, a health path or none, and a function")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = format.As<Napi::String>().Utf8Value();
  if (name != "combined" && name != "json") {
    Napi::RangeError::New(env, "format must be 'combined' or 'json'")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  log_format_ = name == "json" ? core::front::LogFormat::kJson
                               : core::front::LogFormat::kCombined;
  log_health_ = health.IsString() ? health.As<Napi::String>().Utf8Value() : "";
  on_log_ = Napi::Persistent(info[1].As<Napi::Function>());
  if (log_timer_ == nullptr) {
    log_timer_ = new uv_timer_t;
    uv_timer_init(loop_, log_timer_);
    log_timer_->data = this;
    // Held lines must not keep the process alive: JS takes what is left
    // when it exits (takeLogLines).
    uv_unref(reinterpret_cast<uv_handle_t*>(log_timer_));
  }
  logging_ = true;
  return env.Undefined();
}

void FrontDoor::LogReply(Conn* c) {
  timespec now = {};
  clock_gettime(CLOCK_REALTIME, &now);
  core::front::LoggedReply reply;
  reply.remote = c->remote;
  reply.request_head = c->sent_head;
  reply.status = c->sent_status;
  reply.body_bytes = c->sent_bytes;
  reply.ms = c->sent_ms;
  reply.now_ms =
      static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
  bool first = log_lines_.empty();
  if (!core::front::AppendAccessLine(log_format_, log_health_, reply,
                                     &log_lines_)) {
    return;
  }
  if (log_lines_.size() >= kLogFlushBytes) {
    FlushLog();
  } else if (first) {
    uv_timer_start(log_timer_, OnLogTimer, kLogFlushMs, 0);
  }
}

void FrontDoor::OnLogTimer(uv_timer_t* handle) {
  FrontDoor* door = static_cast<FrontDoor*>(handle->data);
  Napi::HandleScope scope(door->Env());
  door->FlushLog();
}

// takeLogLines() -> the access log lines held and not yet given to onLog
// (a Buffer, maybe empty), for JS to write as the process exits.
Napi::Value FrontDoor::TakeLogLines(const Napi::CallbackInfo& info) {
  return TakeLines(info.Env());
}

void FrontDoor::FlushLog() {
  if (log_lines_.empty() || on_log_.IsEmpty()) {
    if (log_timer_ != nullptr) uv_timer_stop(log_timer_);
    return;
  }
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  CallJs(on_log_, {TakeLines(env)});
}

Napi::Buffer<char> FrontDoor::TakeLines(Napi::Env env) {
  if (log_timer_ != nullptr) uv_timer_stop(log_timer_);
  Napi::Buffer<char> lines =
      Napi::Buffer<char>::Copy(env, log_lines_.data(), log_lines_.size());
  log_lines_.clear();
  return lines;
}

// passThrough(): from now on every connection is Node's, each at its next
// request boundary (idle ones at once); returns how many went now.
Napi::Value FrontDoor::PassThrough(const Napi::CallbackInfo& info) {
  pass_through_ = true;
  std::vector<Conn*> idle;
  for (auto& entry : conns_) {
    if (entry.second->state == Conn::State::kReading) {
      idle.push_back(entry.second);
    }
  }
  for (Conn* c : idle) Release(c, "handover", true);
  return Napi::Number::New(info.Env(), static_cast<double>(idle.size()));
}

Napi::Value FrontDoor::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double reading = 0, asking = 0, writing = 0, partial = 0;
  for (auto& entry : conns_) {
    Conn::State s = entry.second->state;
    if (s == Conn::State::kReading) reading++;
    // Bytes of a head that is not complete yet wait in the socket (a whole
    // one is classified as soon as it arrives): nginx's "Reading".
    int unread = 0;
    if (s == Conn::State::kReading &&
        ioctl(entry.second->fd, FIONREAD, &unread) == 0 && unread > 0)
      partial++;
    if (s == Conn::State::kAsking) asking++;
    if (s == Conn::State::kWriting) writing++;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("connections", static_cast<double>(conns_.size()));
  out.Set("reading", reading);
  out.Set("partial", partial);
  out.Set("asking", asking);
  out.Set("writing", writing);
  out.Set("replies", static_cast<double>(replies_.size()));
  out.Set("replyBytes", static_cast<double>(replies_.bytes()));
  out.Set("replyFiles", static_cast<double>(replies_.files()));
  out.Set("hits", counters_.hits);
  out.Set("misses", counters_.misses);
  out.Set("answered", counters_.answered);
  out.Set("handovers", counters_.handovers);
  out.Set("closed", counters_.closed);
  return out;
}

void FrontDoor::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  Conn* c = static_cast<Conn*>(handle->data);
  FrontDoor* door = c->door;
  if (door == nullptr) return;
  if (c->state == Conn::State::kWriting) {
    // On POLLERR a send reports the real error (EPIPE, ECONNRESET).
    door->Continue(c);
  } else if (c->state == Conn::State::kReading) {
    if (status < 0) {
      door->Release(c, "error", false);
    } else {
      door->ReadRequest(c);
    }
  }
}

void FrontDoor::ReadRequest(Conn* c) {
  static thread_local std::vector<uint8_t> peeked(kPeekBytes);
  ssize_t n;
  do {
    n = recv(c->fd, peeked.data(), peeked.size(), MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) Release(c, "error", false);
    return;
  }
  if (n == 0) {
    Release(c, "eof", false);
    return;
  }
  if (draining_) {
    // Bytes of a request that came after the server began to close: Node
    // decides what such a request gets.
    Release(c, "handover", true);
    return;
  }
  core::front::RequestHead head;
  core::front::HeadStatus status = core::front::ParseRequestHead(
      peeked.data(), static_cast<size_t>(n), &head);
  // An unfinished head (a slow or split one) is Node's too: the poll would
  // otherwise fire again at once for bytes that are only peeked at.
  if (status != core::front::HeadStatus::kPlain) {
    Release(c, "handover", true);
    return;
  }
  c->request_at = uv_now(loop_);
  if (tally_sends_) c->request_ns = uv_hrtime();
  std::string_view key(reinterpret_cast<const char*>(peeked.data()),
                       head.head_length);
  std::shared_ptr<const Reply> reply = replies_.Find(key, uv_now(loop_));
  if (reply) {
    counters_.hits++;
    Serve(c, std::move(reply), key);
    return;
  }
  Ask(c, peeked.data(), head.head_length);
}

void FrontDoor::Serve(Conn* c, std::shared_ptr<const Reply> reply,
                      std::string_view request_head) {
  if (!Consume(c->fd, static_cast<uint32_t>(request_head.size()))) {
    Release(c, "error", false);
    return;
  }
  if (report_sends_ || logging_) c->sent_head.assign(request_head);
  c->is_head = !request_head.empty() && request_head[0] == 'H';
  c->reply = std::move(reply);
  core::front::StartReply(*c->reply, time(nullptr), &c->cursor);
  c->state = Conn::State::kWriting;
  c->served_one = true;
  Continue(c);
}

void FrontDoor::Continue(Conn* c) {
  uint64_t before = c->cursor.sent;
  int status = core::front::SendReply(c->fd, *c->reply, &c->cursor, max_chunk_);
  uint64_t now = uv_now(loop_);
  if (c->cursor.sent != before || c->deadline_ms == 0) {
    c->deadline_ms = send_timeout_ms_ ? now + send_timeout_ms_ : 0;
  }
  if (status == core::kAgain || status == core::kYield) {
    Watch(c, UV_WRITABLE);
    return;
  }
  if (status == core::kEof) {
    // The file is shorter than its reply says: never send that reply again,
    // and tell its maker which one it was.
    replies_.Forget(c->reply.get());
    c->shrunk = c->reply->token();
    Release(c, "truncated", false);
    return;
  }
  if (status != core::kDone) {
    Release(c, "error", false);
    return;
  }
  bool close_after = c->reply->close_after();
  NoteSent(c);
  c->reply.reset();
  ReportSent(c);
  // onSent may have closed the connection.
  if (c->state == Conn::State::kGone) return;
  if (!close_after && draining_ && HasPending(c->fd)) {
    // A request came behind this one as the server began to close: Node
    // decides what it gets (as in ReadRequest).
    Release(c, "handover", true);
    return;
  }
  if (close_after || draining_) {
    // As Node ends such a response: FIN after the last byte.
    shutdown(c->fd, SHUT_WR);
    DiscardPending(c->fd);
    Release(c, close_after ? "done" : "server", false);
    return;
  }
  if (pass_through_) {
    Release(c, "handover", true);
    return;
  }
  c->state = Conn::State::kReading;
  c->deadline_ms = keep_alive_ms_ ? now + keep_alive_ms_ : 0;
  Watch(c, UV_READABLE);
}

void FrontDoor::Ask(Conn* c, const uint8_t* head, uint32_t head_length) {
  counters_.misses++;
  c->state = Conn::State::kAsking;
  c->deadline_ms = 0;
  uv_poll_stop(&c->poll);
  c->watching = 0;
  c->asked_key.assign(reinterpret_cast<const char*>(head), head_length);
  c->asked_length = head_length;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // JS may answer (or close) before this returns: `c` is not used after.
  CallJs(on_miss_, c->id,
         Napi::Buffer<char>::Copy(env, c->asked_key.data(), head_length));
}

void FrontDoor::Watch(Conn* c, int events) {
  if (c->watching == events) return;
  int rc = uv_poll_start(&c->poll, events, OnPoll);
  if (rc != 0) {
    Release(c, "error", false);
    return;
  }
  c->watching = events;
}

void FrontDoor::Release(Conn* c, const char* reason, bool to_node) {
  if (c->state == Conn::State::kGone) return;
  c->state = Conn::State::kGone;
  c->reason = reason;
  c->to_node = to_node;
  // A reply cut off (timeout, shrunk file, error, close): reported with
  // what it sent, once the connection is closed.
  if (c->reply) NoteSent(c);
  c->reply.reset();
  conns_.erase(c->id);
  if (to_node) {
    counters_.handovers++;
  } else {
    counters_.closed++;
  }
  uv_poll_stop(&c->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), OnConnClosed);
}

void FrontDoor::OnConnClosed(uv_handle_t* handle) {
  Conn* c = static_cast<Conn*>(handle->data);
  // The poll is off the loop: only now may the duplicate's number go.
  close(c->fd);
  FrontDoor* door = c->door;
  if (door != nullptr) {
    Napi::Env env = door->Env();
    Napi::HandleScope scope(env);
    door->ReportSent(c);
    if (c->to_node) {
      door->CallJs(door->on_hand_over_, c->id, nullptr);
    } else {
      door->CallJs(door->on_closed_, c->id, Napi::String::New(env, c->reason),
                   Napi::Number::New(env, c->shrunk));
    }
  }
  delete c;
}

void FrontDoor::OnTick(uv_timer_t* handle) {
  FrontDoor* door = static_cast<FrontDoor*>(handle->data);
  uint64_t now = uv_now(door->loop_);
  door->replies_.DropExpired(now);
  std::vector<Conn*> expired;
  for (auto& entry : door->conns_) {
    Conn* c = entry.second;
    if (c->deadline_ms != 0 && c->deadline_ms <= now) expired.push_back(c);
  }
  for (Conn* c : expired) {
    if (c->state == Conn::State::kWriting) {
      door->Release(c, "send-timeout", false);
    } else if (!c->served_one) {
      // Nothing asked yet: Node's own headersTimeout takes it from here.
      door->Release(c, "handover", true);
    } else {
      door->Release(c, "keep-alive-timeout", false);
    }
  }
}

void FrontDoor::StartTicking() {
  if (tick_ != nullptr) return;
  uint64_t shortest = 1000;
  for (uint64_t ms : {keep_alive_ms_, first_request_ms_, send_timeout_ms_}) {
    if (ms != 0) shortest = std::min(shortest, ms);
  }
  uint64_t interval = std::clamp<uint64_t>(shortest / 4, 10, 250);
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  uv_timer_start(tick_, OnTick, interval, interval);
  // Connections keep the loop alive through their polls; the timer alone
  // must not.
  uv_unref(reinterpret_cast<uv_handle_t*>(tick_));
}

void FrontDoor::CallJs(const Napi::FunctionReference& fn, int64_t id,
                       napi_value extra, napi_value more) {
  Napi::Env env = Env();
  CallJs(fn, {Napi::Number::New(env, static_cast<double>(id)),
              extra != nullptr ? extra : env.Undefined(),
              more != nullptr ? more : env.Undefined()});
}

void FrontDoor::NoteSent(Conn* c) {
  if ((!report_sends_ && !tally_sends_ && !logging_) || c->sent_noted ||
      !c->reply) {
    return;
  }
  const std::string& head = c->reply->head();
  // "HTTP/1.1 200 ...": Node wrote it, so the three digits are there.
  c->sent_status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
  // Node may have written a small body in the same chunk as its head (an
  // error page, say): the body starts after the blank line either way.
  size_t blank = c->cursor.head.find("\r\n\r\n");
  uint64_t head_bytes =
      blank == std::string::npos ? c->cursor.head.size() : blank + 4;
  c->sent_bytes = c->cursor.sent > head_bytes ? c->cursor.sent - head_bytes : 0;
  c->sent_ms = uv_now(loop_) - c->request_at;
  c->sent_noted = true;
  if (tally_sends_ && c->request_ns != 0) {
    double seconds = static_cast<double>(uv_hrtime() - c->request_ns) / 1e9;
    Tally(c->is_head, c->sent_status, c->sent_bytes, seconds);
  }
}

void FrontDoor::Tally(bool is_head, int status, uint64_t bytes,
                      double seconds) {
  tally_.replies[(is_head ? 1000 : 0) + status]++;
  tally_.bytes += static_cast<double>(bytes);
  tally_.sum += seconds;
  tally_.count++;
  size_t i = 0;
  while (i < tally_.bounds.size() && seconds > tally_.bounds[i]) i++;
  tally_.buckets[i]++;
}

// tallySends(bounds): counts every reply sent from now on (sendTally()
// reads the counts), durations against the ascending `bounds` (seconds).
Napi::Value FrontDoor::TallySends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Napi::TypeError::New(env, "bounds must be an array")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array bounds = info[0].As<Napi::Array>();
  tally_ = Tallied();
  for (uint32_t i = 0; i < bounds.Length(); i++) {
    tally_.bounds.push_back(bounds.Get(i).ToNumber().DoubleValue());
  }
  tally_.buckets.assign(tally_.bounds.size() + 1, 0);
  tally_sends_ = true;
  return env.Undefined();
}

// sendTally() -> { replies: [[method, status, n]...], bytes, sum, count,
// buckets: [n per bound, then past the last] } (not cumulative).
Napi::Value FrontDoor::SendTally(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array replies = Napi::Array::New(env, tally_.replies.size());
  uint32_t k = 0;
  for (const auto& entry : tally_.replies) {
    Napi::Array row = Napi::Array::New(env, 3);
    row.Set(0u, Napi::String::New(env, entry.first >= 1000 ? "HEAD" : "GET"));
    row.Set(1u, Napi::Number::New(env, entry.first % 1000));
    row.Set(2u, Napi::Number::New(env, entry.second));
    replies.Set(k++, row);
  }
  Napi::Array buckets = Napi::Array::New(env, tally_.buckets.size());
  for (uint32_t i = 0; i < tally_.buckets.size(); i++) {
    buckets.Set(i, Napi::Number::New(env, tally_.buckets[i]));
  }
  out.Set("replies", replies);
  out.Set("bytes", tally_.bytes);
  out.Set("sum", tally_.sum);
  out.Set("count", tally_.count);
  out.Set("buckets", buckets);
  return out;
}

void FrontDoor::ReportSent(Conn* c) {
  if (!c->sent_noted) return;
  c->sent_noted = false;
  if (logging_) LogReply(c);
  if (!report_sends_ || on_sent_.IsEmpty()) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  CallJs(on_sent_, {Napi::Number::New(env, static_cast<double>(c->id)),
                    Napi::Buffer<char>::Copy(env, c->sent_head.data(),
                                             c->sent_head.size()),
                    Napi::Number::New(env, c->sent_status),
                    Napi::Number::New(env, static_cast<double>(c->sent_bytes)),
                    Napi::Number::New(env, static_cast<double>(c->sent_ms))});
}

void FrontDoor::CallJs(const Napi::FunctionReference& fn,
                       std::initializer_list<napi_value> args) {
  Napi::Env env = Env();
  fn.MakeCallback(env.Global(), args.size(), args.begin(), *context_);
  if (env.IsExceptionPending()) {
    Napi::Error err = env.GetAndClearPendingException();
    napi_fatal_exception(env, err.Value());
  }
}

FrontDoor::Conn* FrontDoor::Find(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) return nullptr;
  auto it = conns_.find(info[0].As<Napi::Number>().Int64Value());
  return it == conns_.end() ? nullptr : it->second;
}

}  // namespace sluice
