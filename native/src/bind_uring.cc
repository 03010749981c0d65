// JS-facing io_uring engine functions: unpack arguments, call
// uring_transfer / core, marshal the result. No syscalls here. A pending
// io_uring transfer is stopped with the generic cancel(id).
#include "bind_uring.h"

#include <string>
#include <utility>
#include <vector>

#include "bind_args.h"
#include "core/uring/ring.h"
#include "uring_transfer.h"

namespace sluice {

// uringProbe() → {rc, syscall}: rc 0 when this process can run the
// io_uring engine (ring setup, IORING_OP_SPLICE / POLL_ADD / ASYNC_CANCEL
// supported, no dropped CQEs), else -errno and the syscall that failed
// ("io_uring_setup": EPERM under Docker's default seccomp, ENOSYS without
// io_uring; "io_uring_register": EOPNOTSUPP for a missing opcode).
// Honours SLUICE_FORCE_ERRNO. Makes and destroys a small ring each call:
// callers cache the answer.
Napi::Value UringProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string syscall;
  int rc = core::ProbeUring(&syscall);
  Napi::Object out = Napi::Object::New(env);
  out.Set("rc", Napi::Number::New(env, rc));
  out.Set("syscall", Napi::String::New(env, syscall));
  return out;
}

// uringSend(outFd, segments, maxChunk, id, callback) → status
// segments as for sendSegments. Returns PENDING (callback(status,
// totalBytes) runs once later), or DONE / EOF / -errno when it finished or
// failed in the call.
Napi::Value UringSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double out_fd, max_chunk, id;
  std::vector<core::Segment> segments;
  if (!ReadWhole(info, 0, "outFd", 0, kMaxFd, &out_fd) ||
      !ReadSegments(info, 1, &segments) ||
      !ReadWhole(info, 2, "maxChunk", 1, kMaxSafeInteger, &max_chunk) ||
      !ReadWhole(info, 3, "id", 0, kMaxSafeInteger, &id)) {
    return env.Undefined();
  }
  if (!info[4].IsFunction()) {
    Napi::TypeError::New(env, "The \"callback\" argument must be a function")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int status = StartUringTransfer(env, static_cast<int64_t>(id),
                                  static_cast<int>(out_fd), std::move(segments),
                                  static_cast<uint64_t>(max_chunk),
                                  info[4].As<Napi::Function>());
  return Napi::Number::New(env, status);
}

// uringStats() → {inFlight, transfers, pipes} on this event loop, for leak
// tests: SQEs not yet completed, transfers not yet finished, pipes held.
Napi::Value UringStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  core::UringEngineStats stats = UringTransferStats(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("inFlight",
          Napi::Number::New(env, static_cast<double>(stats.in_flight)));
  out.Set("transfers",
          Napi::Number::New(env, static_cast<double>(stats.bodies)));
  out.Set("pipes", Napi::Number::New(env, static_cast<double>(stats.pipes)));
  return out;
}

}  // namespace sluice
