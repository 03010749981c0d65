// Per-environment state: the main thread and each worker thread that loads
// the addon have their own event loop and their own transfers.
#ifndef SLUICE_ADDON_STATE_H_
#define SLUICE_ADDON_STATE_H_

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <unordered_map>

#include "core/pipe_pool.h"

namespace sluice {

class Transfer;
struct UringLoop;

struct AddonState {
  uv_loop_t* loop = nullptr;
  std::unordered_map<int64_t, Transfer*> transfers;
  // Pipes for the splice engine. Declared after `transfers` and drained
  // by Transfer::CloseAll before the state is deleted, so no mover outlives
  // it.
  core::PipePool pipes;
  // The io_uring engine's ring and its transfers, made on first use
  // (uring_transfer.cc); destroyed before `pipes`, whose pipes it holds.
  UringLoop* uring = nullptr;
};

// Creates the state on first use in this environment.
AddonState* GetState(Napi::Env env);

}  // namespace sluice

#endif  // SLUICE_ADDON_STATE_H_
