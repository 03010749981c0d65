// JS-facing transfer functions: unpack arguments, call core through
// Transfer, return the status. No syscalls here.
#include "bind_sendfile.h"

#include <cerrno>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "core/pump.h"
#include "transfer.h"

namespace sluice {

namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

bool IsWholeNumber(const Napi::Value& v, double min, double max) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && std::floor(d) == d && d >= min && d <= max;
}

// Reads argument i as a whole number in [min, max] or throws a TypeError.
bool ReadWhole(const Napi::CallbackInfo& info, size_t i, const char* name,
               double min, double max, double* out) {
  if (!IsWholeNumber(info[i], min, max)) {
    Napi::TypeError::New(info.Env(), std::string("The \"") + name +
                                         "\" argument must be a whole number "
                                         "in range")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

std::unique_ptr<core::FileMover> NewMover(int kind) {
  switch (kind) {
    case kMoverSendfile:
      return std::make_unique<core::SendfileMover>();
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
  std::unique_ptr<core::FileMover> mover = NewMover(mover_kind);
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
  segments.push_back(core::Segment{static_cast<int>(in_fd),
                                   static_cast<int64_t>(offset),
                                   static_cast<uint64_t>(count), {}});
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
  if (!info[2].IsArray()) {
    Napi::TypeError::New(env, "The \"segments\" argument must be an array")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<core::Segment> segments;
  segments.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list[i];
    if (item.IsBuffer()) {
      Napi::Buffer<char> buf = item.As<Napi::Buffer<char>>();
      segments.push_back(core::Segment{-1, 0, buf.Length(),
                                       std::string(buf.Data(), buf.Length())});
      continue;
    }
    Napi::Array triple = item.IsArray() ? item.As<Napi::Array>() : Napi::Array();
    if (item.IsArray() && triple.Length() == 3 &&
        IsWholeNumber(triple[0u], 0, 2147483647) &&
        IsWholeNumber(triple[1u], 0, kMaxSafeInteger) &&
        IsWholeNumber(triple[2u], 0, kMaxSafeInteger)) {
      segments.push_back(core::Segment{
          static_cast<int>(triple.Get(0u).As<Napi::Number>().Int32Value()),
          static_cast<int64_t>(triple.Get(1u).As<Napi::Number>().DoubleValue()),
          static_cast<uint64_t>(triple.Get(2u).As<Napi::Number>().DoubleValue()),
          {}});
      continue;
    }
    Napi::TypeError::New(env, "Each segment must be a Buffer or an "
                              "[fd, offset, count] array")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return StartTransfer(info, 3, static_cast<int>(mover),
                       static_cast<int>(out_fd), std::move(segments));
}

// cancel(id) → whether a pending transfer was stopped
Napi::Value CancelTransfer(const Napi::CallbackInfo& info) {
  double id;
  if (!ReadWhole(info, 0, "id", 0, kMaxSafeInteger, &id)) {
    return info.Env().Undefined();
  }
  return Napi::Boolean::New(
      info.Env(), Transfer::Cancel(info.Env(), static_cast<int64_t>(id)));
}

// pendingTransfers() → how many transfers wait on the loop (for tests)
Napi::Value PendingTransfers(const Napi::CallbackInfo& info) {
  return Napi::Number::New(
      info.Env(), static_cast<double>(GetState(info.Env())->transfers.size()));
}

}  // namespace sluice
