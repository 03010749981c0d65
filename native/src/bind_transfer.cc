// JS-facing transfer functions: unpack arguments, call core through
// Transfer, return the status. No syscalls here.
#include "bind_transfer.h"

#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bind_args.h"
#include "core/pump.h"
#include "core/sendfile.h"
#include "core/splice.h"
#include "transfer.h"
#include "uring_transfer.h"

namespace sluice {

namespace {

std::unique_ptr<core::FileMover> NewMover(Napi::Env env, int kind) {
  switch (kind) {
    case kMoverSendfile:
      return std::make_unique<core::SendfileMover>();
    case kMoverSplice:
      return std::make_unique<core::SpliceMover>(&GetState(env)->pipes);
    default:
      return nullptr;
  }
}

// Common tail: (maxChunk, id, callback) at argument `first`.
Napi::Value StartTransfer(const Napi::CallbackInfo& info, size_t first,
                          int mover_kind, int out_fd,
                          std::vector<core::Segment> segments) {
  Napi::Env env = info.Env();
  double max_chunk, id;
  if (!ReadWhole(info, first, "maxChunk", 1, kMaxSafeInteger, &max_chunk) ||
      !ReadWhole(info, first + 1, "id", 0, kMaxSafeInteger, &id)) {
    return env.Undefined();
  }
  if (!info[first + 2].IsFunction()) {
    Napi::TypeError::New(env, "The \"callback\" argument must be a function")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::unique_ptr<core::FileMover> mover = NewMover(env, mover_kind);
  if (!mover) {
    Napi::TypeError::New(env, "Unknown mover").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int status = Transfer::Start(env, static_cast<int64_t>(id), out_fd,
                               std::move(segments), std::move(mover),
                               static_cast<uint64_t>(max_chunk),
                               info[first + 2].As<Napi::Function>());
  return Napi::Number::New(env, status);
}

}  // namespace

// sendfile(outFd, inFd, offset, count, maxChunk, id, callback) → status
Napi::Value SendfileFile(const Napi::CallbackInfo& info) {
  double out_fd, in_fd, offset, count;
  if (!ReadWhole(info, 0, "outFd", 0, 2147483647, &out_fd) ||
      !ReadWhole(info, 1, "inFd", 0, 2147483647, &in_fd) ||
      !ReadWhole(info, 2, "offset", 0, kMaxSafeInteger, &offset) ||
      !ReadWhole(info, 3, "count", 0, kMaxSafeInteger, &count)) {
    return info.Env().Undefined();
  }
  std::vector<core::Segment> segments;
  segments.push_back(
      core::Segment{static_cast<int>(in_fd), static_cast<int64_t>(offset),
                    static_cast<uint64_t>(count), std::string()});
  return StartTransfer(info, 4, kMoverSendfile, static_cast<int>(out_fd),
                       std::move(segments));
}

// sendSegments(mover, outFd, segments, maxChunk, id, callback) → status
// segments: an array of Buffers (literal bytes) and [fd, offset, count]
// triples (file ranges), sent in order.
Napi::Value SendSegments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double mover, out_fd;
  if (!ReadWhole(info, 0, "mover", 0, 16, &mover) ||
      !ReadWhole(info, 1, "outFd", 0, 2147483647, &out_fd)) {
    return env.Undefined();
  }
  std::vector<core::Segment> segments;
  if (!ReadSegments(info, 2, &segments)) return env.Undefined();
  return StartTransfer(info, 3, static_cast<int>(mover),
                       static_cast<int>(out_fd), std::move(segments));
}

// cancel(id) → whether a pending transfer was stopped (poll-driven or
// io_uring: they share one id space)
Napi::Value CancelTransfer(const Napi::CallbackInfo& info) {
  double id;
  if (!ReadWhole(info, 0, "id", 0, kMaxSafeInteger, &id)) {
    return info.Env().Undefined();
  }
  Napi::Env env = info.Env();
  int64_t key = static_cast<int64_t>(id);
  return Napi::Boolean::New(
      env, Transfer::Cancel(env, key) || CancelUringTransfer(env, key));
}

// transferProgress(id) → bytes a pending transfer (any native engine) has
// sent so far, or -1 when `id` is not pending
Napi::Value TransferProgress(const Napi::CallbackInfo& info) {
  double id;
  if (!ReadWhole(info, 0, "id", 0, kMaxSafeInteger, &id)) {
    return info.Env().Undefined();
  }
  Napi::Env env = info.Env();
  int64_t key = static_cast<int64_t>(id);
  int64_t bytes = Transfer::Progress(env, key);
  if (bytes < 0) bytes = UringTransferProgress(env, key);
  return Napi::Number::New(env, static_cast<double>(bytes));
}

// pendingTransfers() → how many transfers wait on the loop (for tests)
Napi::Value PendingTransfers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t pending = GetState(env)->transfers.size() + PendingUringTransfers(env);
  return Napi::Number::New(env, static_cast<double>(pending));
}

}  // namespace sluice
