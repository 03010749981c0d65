// Body transfers on io_uring, the Node side: one lazily created ring per
// environment (so per event loop: the main thread and each worker), its
// eventfd watched by a uv_poll_t on that environment's loop, and one JS
// callback per transfer, run with MakeCallback in the transfer's async
// context once every CQE the transfer was owed has come back.
//
// The byte moving itself is core/uring/engine.h and core/uring/body.h.
#ifndef SLUICE_URING_TRANSFER_H_
#define SLUICE_URING_TRANSFER_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "addon_state.h"
#include "core/pump.h"
#include "core/uring/engine.h"

namespace sluice {

// Starts sending `segments` to the socket `sock_fd` (Node's fd, read from a
// live handle in this same call) on a duplicate of it. Returns kPending
// (`callback(status, totalBytes)` then runs exactly once, later), or kDone
// / kEof / -errno when it finished or failed within the call (the callback
// is then never called): -EEXIST for an id already pending, the ring's
// setup error if the ring cannot be created.
int StartUringTransfer(Napi::Env env, int64_t id, int sock_fd,
                       std::vector<core::Segment> segments, uint64_t max_chunk,
                       Napi::Function callback);

// Stops a pending io_uring transfer: its callback runs later with
// -ECANCELED, after the kernel has returned every request of it.
bool CancelUringTransfer(Napi::Env env, int64_t id);

// Bytes a pending io_uring transfer has sent so far, or -1 if not pending.
int64_t UringTransferProgress(Napi::Env env, int64_t id);

// Transfers whose callback has not run yet.
size_t PendingUringTransfers(Napi::Env env);

// For leak tests: what the engine holds right now (zeros before first use).
core::UringEngineStats UringTransferStats(Napi::Env env);

// Environment teardown: destroys the ring (the kernel cancels what is in
// flight), closes every duplicate, discards their pipes and closes the
// poll handle. No callback runs. Must run before the pipe pool goes.
void DestroyUringTransfers(AddonState* state);

}  // namespace sluice

#endif  // SLUICE_URING_TRANSFER_H_
