#include "addon_state.h"

#include "transfer.h"
#include "uring_transfer.h"

namespace sluice {

namespace {

void DestroyState(Napi::Env /*env*/, AddonState* state) {
  Transfer::CloseAll(state);
  DestroyUringTransfers(state);
  delete state;
}

}  // namespace

AddonState* GetState(Napi::Env env) {
  AddonState* state = env.GetInstanceData<AddonState>();
  if (state != nullptr) return state;
  state = new AddonState();
  napi_get_uv_event_loop(env, &state->loop);
  env.SetInstanceData<AddonState, DestroyState>(state);
  return state;
}

}  // namespace sluice
