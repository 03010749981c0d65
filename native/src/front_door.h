// The front door: answers plain HTTP/1 requests on connections that Node's
// server accepted, without Node's HTTP layer, with bytes Node itself wrote
// for the same request head; hands every other connection to Node.
//
// A connection's request bytes stay in the kernel until it is decided: the
// head is read with MSG_PEEK, and only a head that is answered here is
// consumed. So a handover loses nothing: Node reads the same bytes from the
// socket as if it had had the connection from the start.
//
// Ownership: JS keeps Node's handle (and so its fd) alive and closes it;
// this side works on its own duplicate, closed before JS is told that the
// connection is over (onClosed) or is Node's (onHandOver).
#ifndef SLUICE_FRONT_DOOR_H_
#define SLUICE_FRONT_DOOR_H_

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/front/access_line.h"
#include "core/front/reply.h"
#include "core/front/send_reply.h"

namespace sluice {

Napi::Value ClassifyRequestHead(const Napi::CallbackInfo& info);

class FrontDoor : public Napi::ObjectWrap<FrontDoor> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FrontDoor(const Napi::CallbackInfo& info);
  ~FrontDoor() override;

  struct Conn;

 private:
  Napi::Value Adopt(const Napi::CallbackInfo& info);
  Napi::Value Answer(const Napi::CallbackInfo& info);
  Napi::Value HandOver(const Napi::CallbackInfo& info);
  Napi::Value CloseIdle(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value CloseAll(const Napi::CallbackInfo& info);
  Napi::Value ClearReplies(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value ReportSends(const Napi::CallbackInfo& info);
  Napi::Value TallySends(const Napi::CallbackInfo& info);
  Napi::Value SendTally(const Napi::CallbackInfo& info);
  Napi::Value PassThrough(const Napi::CallbackInfo& info);
  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info);
  Napi::Value LogReplies(const Napi::CallbackInfo& info);
  Napi::Value TakeLogLines(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTick(uv_timer_t* handle);
  static void OnConnClosed(uv_handle_t* handle);
  static void OnLogTimer(uv_timer_t* handle);

  void ReadRequest(Conn* c);
  void Serve(Conn* c, std::shared_ptr<const core::front::Reply> reply,
             std::string_view request_head);
  void Continue(Conn* c);
  void Ask(Conn* c, const uint8_t* head, uint32_t head_length);
  void Watch(Conn* c, int events);
  // Ends this side's part in `c`: stops its poll, closes the duplicate, then
  // tells JS (onClosed with `reason`, or onHandOver when `to_node`).
  void Release(Conn* c, const char* reason, bool to_node);
  void CallJs(const Napi::FunctionReference& fn, int64_t id, napi_value extra,
              napi_value more = nullptr);
  void CallJs(const Napi::FunctionReference& fn,
              std::initializer_list<napi_value> args);
  // Notes what the reply in flight on `c` sent (for onSent), when asked to.
  void NoteSent(Conn* c);
  // onSent(id, requestHead, status, bodyBytes, ms) for a noted reply.
  void ReportSent(Conn* c);
  void StartTicking();
  // Appends the access log line of `c`'s noted reply, while logging_.
  void LogReply(Conn* c);
  // onLog(lines): the lines made since the last call.
  void FlushLog();
  // The lines held, as a Buffer, and none held after.
  Napi::Buffer<char> TakeLines(Napi::Env env);
  Conn* Find(const Napi::CallbackInfo& info);

  uv_loop_t* loop_;
  uv_timer_t* tick_ = nullptr;
  Napi::FunctionReference on_miss_;
  Napi::FunctionReference on_hand_over_;
  Napi::FunctionReference on_closed_;
  // Optional: told of every reply sent here, while report_sends_.
  Napi::FunctionReference on_sent_;
  bool report_sends_ = false;
  std::unique_ptr<Napi::AsyncContext> context_;
  core::front::ReplyCache replies_;
  std::unordered_map<int64_t, Conn*> conns_;
  int64_t next_id_ = 1;
  uint64_t keep_alive_ms_;
  uint64_t first_request_ms_;
  uint64_t send_timeout_ms_;
  uint64_t max_chunk_;
  // The server is closing: each connection ends after its current reply.
  bool draining_ = false;
  // Everything is Node's from now on: each connection goes to it at its
  // next request boundary.
  bool pass_through_ = false;
  struct Counters {
    double hits = 0, misses = 0, handovers = 0, answered = 0, closed = 0;
  } counters_;
  // While tally_sends_: every reply sent here, counted without a call into
  // JS (the metrics read it when scraped): replies by method and status,
  // body bytes, and durations (seconds) against bucket bounds.
  bool tally_sends_ = false;
  struct Tallied {
    // (HEAD ? 1000 : 0) + status -> replies.
    std::map<int, double> replies;
    double bytes = 0, sum = 0, count = 0;
    std::vector<double> bounds;
    std::vector<double> buckets;
  } tally_;
  void Tally(bool is_head, int status, uint64_t bytes, double seconds);
  // While logging_: every reply sent here has its access log line made
  // here, and the lines go to onLog in batches, as nginx's access_log
  // buffer= flush= writes them: once 64 KiB are held, or 200 ms after the
  // first line held (a timer); not one call into JS, or one write, per
  // reply.
  bool logging_ = false;
  core::front::LogFormat log_format_ = core::front::LogFormat::kCombined;
  std::string log_health_;
  std::string log_lines_;
  Napi::FunctionReference on_log_;
  uv_timer_t* log_timer_ = nullptr;
};

}  // namespace sluice

#endif  // SLUICE_FRONT_DOOR_H_
