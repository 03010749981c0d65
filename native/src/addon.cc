// Module init: registers exports, nothing else.
#include <napi.h>

#include "bind_splice.h"
#include "bind_thread.h"
#include "bind_transfer.h"
#include "bind_uring.h"
#include "core/progress.h"
#include "front_door.h"
#include "transfer.h"

namespace sluice {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sendfile", Napi::Function::New(env, SendfileFile, "sendfile"));
  exports.Set("sendSegments",
              Napi::Function::New(env, SendSegments, "sendSegments"));
  exports.Set("cancel", Napi::Function::New(env, CancelTransfer, "cancel"));
  exports.Set("transferProgress",
              Napi::Function::New(env, TransferProgress, "transferProgress"));
  exports.Set("pendingTransfers",
              Napi::Function::New(env, PendingTransfers, "pendingTransfers"));
  exports.Set("pipePoolStats",
              Napi::Function::New(env, PipePoolStats, "pipePoolStats"));
  exports.Set("pipePoolTrim",
              Napi::Function::New(env, PipePoolTrim, "pipePoolTrim"));
  exports.Set("uringProbe", Napi::Function::New(env, UringProbe, "uringProbe"));
  exports.Set("uringSend", Napi::Function::New(env, UringSend, "uringSend"));
  exports.Set("uringStats", Napi::Function::New(env, UringStats, "uringStats"));
  exports.Set("idleThisThread",
              Napi::Function::New(env, IdleThisThread, "idleThisThread"));
  exports.Set("FrontDoor", FrontDoor::Define(env));
  exports.Set(
      "classifyRequestHead",
      Napi::Function::New(env, ClassifyRequestHead, "classifyRequestHead"));
  exports.Set("DONE", Napi::Number::New(env, core::kDone));
  exports.Set("EOF", Napi::Number::New(env, core::kEof));
  exports.Set("PENDING", Napi::Number::New(env, core::kPending));
  exports.Set("MOVER_SENDFILE", Napi::Number::New(env, kMoverSendfile));
  exports.Set("MOVER_SPLICE", Napi::Number::New(env, kMoverSplice));
  return exports;
}

}  // namespace sluice

// The macro pastes its argument into a name, so it takes an unqualified one.
static Napi::Object InitSluice(Napi::Env env, Napi::Object exports) {
  return sluice::Init(env, exports);
}

NODE_API_MODULE(sluice, InitSluice)
