// A body transfer that could not finish in the call that started it. It owns
// a duplicate of the socket fd (Node may close its own at any time, and the
// number could then name another connection), waits for writability with a
// uv_poll_t on that duplicate, moves a bounded chunk per wake-up and calls
// back into JS exactly once.
#ifndef SLUICE_TRANSFER_H_
#define SLUICE_TRANSFER_H_

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "addon_state.h"
#include "core/pump.h"
#include "transfer_callback.h"

namespace sluice {

class Transfer {
 public:
  // Takes a duplicate of `sock_fd` (which JS read from a live handle in
  // this same call, so it is Node's fd for this connection), then runs the
  // first step synchronously on `sock_fd`. Returns kDone, kEof or -errno
  // when finished here (the callback is then never called), or kPending;
  // the callback then runs once with (status, totalBytes). -EMFILE or
  // -ENFILE from here means no byte was sent.
  static int Start(Napi::Env env, int64_t id, int sock_fd,
                   std::vector<core::Segment> segments,
                   std::unique_ptr<core::FileMover> mover, uint64_t max_chunk,
                   Napi::Function callback);

  // Stops a pending transfer; its callback runs later with -ECANCELED.
  static bool Cancel(Napi::Env env, int64_t id);

  // Bytes a pending transfer has sent so far, or -1 if `id` is not pending.
  static int64_t Progress(Napi::Env env, int64_t id);

  // Closes every pending transfer of an environment that is being torn
  // down; their callbacks are not called.
  static void CloseAll(AddonState* state);

 private:
  Transfer(Napi::Env env, AddonState* state, int64_t id, int fd,
           std::vector<core::Segment> segments,
           std::unique_ptr<core::FileMover> mover, uint64_t max_chunk,
           core::Cursor cursor, Napi::Function callback);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClosed(uv_handle_t* handle);

  void Step(int poll_status);
  void Finish(int status);

  Napi::Env env_;
  AddonState* state_;
  int64_t id_;
  int fd_;  // our duplicate of the socket fd
  std::vector<core::Segment> segments_;
  std::unique_ptr<core::FileMover> mover_;
  uint64_t max_chunk_;
  core::Cursor cursor_;
  TransferCallback callback_;
  uv_poll_t poll_;
  int status_ = core::kPending;
  bool finishing_ = false;
};

}  // namespace sluice

#endif  // SLUICE_TRANSFER_H_
