// JS-facing thread scheduling: for background threads (the compress
// cache's worker) that must never delay the thread serving requests.
#include "bind_thread.h"

#include "core/thread_priority.h"

namespace sluice {

// idleThisThread() → 0 or -errno: the calling JS thread (main or worker)
// becomes SCHED_IDLE.
Napi::Value IdleThisThread(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), core::MakeThisThreadIdle());
}

}  // namespace sluice
