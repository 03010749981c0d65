// Per-environment state: the main thread and each worker thread that loads
// the addon have their own event loop and their own transfers.
#ifndef SLUICE_ADDON_STATE_H_
#define SLUICE_ADDON_STATE_H_

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <unordered_map>

namespace sluice {

class Transfer;

struct AddonState {
  uv_loop_t* loop = nullptr;
  std::unordered_map<int64_t, Transfer*> transfers;
};

// Creates the state on first use in this environment.
AddonState* GetState(Napi::Env env);

}  // namespace sluice

#endif  // SLUICE_ADDON_STATE_H_
