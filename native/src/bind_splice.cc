// JS-facing splice engine functions. Transfers themselves start through
// sendSegments(MOVER_SPLICE, ...) in bind_transfer.cc; this file exposes the
// pipe pool they share. No syscalls here.
#include "bind_splice.h"

#include "addon_state.h"
#include "core/pipe_pool.h"

namespace sluice {

// pipePoolStats() → {idle, inUse, created, closed, pipeSize} for this
// event loop's pool (for tests and leak checks).
Napi::Value PipePoolStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  core::PipePoolStats stats = GetState(env)->pipes.Stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("idle", Napi::Number::New(env, static_cast<double>(stats.idle)));
  out.Set("inUse", Napi::Number::New(env, static_cast<double>(stats.in_use)));
  out.Set("created",
          Napi::Number::New(env, static_cast<double>(stats.created)));
  out.Set("closed", Napi::Number::New(env, static_cast<double>(stats.closed)));
  out.Set("pipeSize", Napi::Number::New(env, stats.pipe_size));
  return out;
}

// pipePoolTrim() → how many idle pipes of this event loop's pool were
// closed (the process is short of descriptors).
Napi::Value PipePoolTrim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env,
                           static_cast<double>(GetState(env)->pipes.Trim()));
}

}  // namespace sluice
