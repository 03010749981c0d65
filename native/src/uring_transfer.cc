#include "uring_transfer.h"

#include <uv.h>

#include <cerrno>
#include <memory>
#include <unordered_map>
#include <utility>

#include "core/dup_socket.h"
#include "transfer.h"
#include "transfer_callback.h"

namespace sluice {

// Per-environment io_uring state (AddonState::uring).
struct UringLoop {
  Napi::Env env;
  std::unique_ptr<core::UringEngine> engine;
  // On the heap: uv_close finishes on a later loop turn, possibly after
  // this struct is gone, and frees it then.
  uv_poll_t* poll = nullptr;
  bool polling = false;
  // Submits what Start() queued, once per loop turn, just before the loop
  // waits (prepare runs then, whatever phase started the bodies).
  uv_prepare_t* flush = nullptr;
  bool flushing = false;
  std::unordered_map<int64_t, std::unique_ptr<TransferCallback>> pending;

  explicit UringLoop(Napi::Env e) : env(e) {}
};

namespace {

// uv_close's callback for a handle allocated with new.
template <class Handle>
void FreeHandle(uv_handle_t* handle) {
  delete reinterpret_cast<Handle*>(handle);
}

void OnFlush(uv_prepare_t* handle) {
  UringLoop* loop = static_cast<UringLoop*>(handle->data);
  loop->engine->Flush();
  uv_prepare_stop(handle);
  loop->flushing = false;
}

// Has the queued SQEs submitted before the loop next waits (or at once,
// should the prepare handle not start).
void FlushBeforeWaiting(UringLoop* loop) {
  if (!loop->engine->HasUnsubmitted() || loop->flushing) return;
  if (uv_prepare_start(loop->flush, OnFlush) == 0) {
    loop->flushing = true;
    return;
  }
  loop->engine->Flush();
}

void OnRingReady(uv_poll_t* handle, int /*status*/, int /*events*/) {
  // A poll error on an eventfd is not expected; draining is harmless
  // either way, and the CQ is the only source of truth.
  UringLoop* loop = static_cast<UringLoop*>(handle->data);
  std::vector<core::UringFinished> finished = loop->engine->OnWake();
  Napi::Env env = loop->env;
  for (const core::UringFinished& f : finished) {
    auto it = loop->pending.find(static_cast<int64_t>(f.key));
    if (it == loop->pending.end()) continue;
    std::unique_ptr<TransferCallback> cb = std::move(it->second);
    loop->pending.erase(it);
    cb->Call(env, f.status, f.total);
  }
  // The watch keeps the loop alive, exactly while transfers are pending
  // (as each sendfile transfer's own poll does).
  if (loop->pending.empty() && loop->polling) {
    uv_poll_stop(loop->poll);
    loop->polling = false;
  }
}

// The environment's UringLoop, creating the ring and the poll handle on
// first use. Returns 0 or -errno; a failure is not remembered (the next
// transfer tries again: EMFILE, for one, can pass).
int GetLoop(Napi::Env env, AddonState* state, UringLoop** out) {
  if (state->uring != nullptr) {
    *out = state->uring;
    return 0;
  }
  core::UringEngine* engine = nullptr;
  const char* failed = nullptr;
  int rc = core::UringEngine::Create(&state->pipes, &engine, &failed);
  if (rc < 0) return rc;
  auto loop = std::make_unique<UringLoop>(env);
  loop->engine.reset(engine);
  loop->poll = new uv_poll_t;
  rc = uv_poll_init(state->loop, loop->poll, engine->eventfd());
  if (rc != 0) {
    // Never joined the loop: free by hand, not with uv_close.
    delete loop->poll;
    return rc;
  }
  loop->poll->data = loop.get();
  loop->flush = new uv_prepare_t;
  uv_prepare_init(state->loop, loop->flush);  // cannot fail
  loop->flush->data = loop.get();
  state->uring = loop.release();
  *out = state->uring;
  return 0;
}

bool IsEmpty(const std::vector<core::Segment>& segments) {
  for (const core::Segment& seg : segments) {
    if (seg.length > 0) return false;
  }
  return true;
}

}  // namespace

int StartUringTransfer(Napi::Env env, int64_t id, int sock_fd,
                       std::vector<core::Segment> segments, uint64_t max_chunk,
                       Napi::Function callback) {
  AddonState* state = GetState(env);
  // One id space with the poll-driven transfers: cancel(id) serves both.
  if (state->transfers.count(id) != 0 ||
      (state->uring != nullptr && state->uring->pending.count(id) != 0)) {
    return -EEXIST;
  }
  if (id < 0 || static_cast<uint64_t>(id) > core::kMaxUringKey) return -EINVAL;
  if (IsEmpty(segments)) return core::kDone;  // no ring needed
  UringLoop* loop = nullptr;
  int rc = GetLoop(env, state, &loop);
  if (rc < 0) return rc;
  // Watch before starting: a body in flight that nobody would wake up for
  // could never finish.
  if (!loop->polling) {
    rc = uv_poll_start(loop->poll, UV_READABLE, OnRingReady);
    if (rc != 0) return rc;
    loop->polling = true;
  }
  int dup_fd = core::DupSocket(sock_fd);
  int status = dup_fd < 0
                   ? dup_fd
                   : loop->engine->Start(static_cast<uint64_t>(id), dup_fd,
                                         std::move(segments), max_chunk);
  if (status == core::kPending) {
    loop->pending.emplace(
        id, std::make_unique<TransferCallback>(env, callback, "sluice:uring"));
    FlushBeforeWaiting(loop);
    return core::kPending;
  }
  if (loop->pending.empty()) {
    uv_poll_stop(loop->poll);
    loop->polling = false;
  }
  return status;
}

bool CancelUringTransfer(Napi::Env env, int64_t id) {
  UringLoop* loop = GetState(env)->uring;
  if (loop == nullptr || id < 0 || loop->pending.count(id) == 0) return false;
  return loop->engine->Cancel(static_cast<uint64_t>(id), -ECANCELED);
}

int64_t UringTransferProgress(Napi::Env env, int64_t id) {
  UringLoop* loop = GetState(env)->uring;
  if (loop == nullptr || id < 0 || loop->pending.count(id) == 0) return -1;
  return loop->engine->Progress(static_cast<uint64_t>(id));
}

size_t PendingUringTransfers(Napi::Env env) {
  UringLoop* loop = GetState(env)->uring;
  return loop == nullptr ? 0 : loop->pending.size();
}

core::UringEngineStats UringTransferStats(Napi::Env env) {
  UringLoop* loop = GetState(env)->uring;
  if (loop == nullptr) return core::UringEngineStats{0, 0, 0};
  return loop->engine->Stats();
}

void DestroyUringTransfers(AddonState* state) {
  UringLoop* loop = state->uring;
  if (loop == nullptr) return;
  state->uring = nullptr;
  uv_poll_stop(loop->poll);
  loop->poll->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(loop->poll), FreeHandle<uv_poll_t>);
  uv_prepare_stop(loop->flush);
  loop->flush->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(loop->flush),
           FreeHandle<uv_prepare_t>);
  // Ring first, then the bodies' fds and pipes (see ~UringEngine). The
  // callbacks are dropped unrun: there is no JS left to call.
  loop->engine.reset();
  delete loop;
}

}  // namespace sluice
