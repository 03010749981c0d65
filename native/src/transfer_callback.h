// The JS callback of a pending transfer, with the async context it was
// started in, so AsyncLocalStorage and async_hooks see the right parent and
// microtasks queued by the callback run when it returns.
#ifndef SLUICE_TRANSFER_CALLBACK_H_
#define SLUICE_TRANSFER_CALLBACK_H_

#include <napi.h>

#include <cstdint>

namespace sluice {

class TransferCallback {
 public:
  // `resource_name` is the async resource type async_hooks reports.
  TransferCallback(Napi::Env env, Napi::Function fn, const char* resource_name);

  TransferCallback(const TransferCallback&) = delete;
  TransferCallback& operator=(const TransferCallback&) = delete;

  // Runs fn(status, totalBytes) with MakeCallback, from the event loop. An
  // exception it throws has no JS caller to go to, so it is reported as
  // uncaught (process 'uncaughtException'), as Node does for its own
  // callbacks.
  void Call(Napi::Env env, int status, uint64_t total);

 private:
  Napi::FunctionReference fn_;
  Napi::AsyncContext context_;
};

}  // namespace sluice

#endif  // SLUICE_TRANSFER_CALLBACK_H_
