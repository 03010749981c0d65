#include "transfer_callback.h"

namespace sluice {

TransferCallback::TransferCallback(Napi::Env env, Napi::Function fn,
                                   const char* resource_name)
    : fn_(Napi::Persistent(fn)), context_(env, resource_name) {}

void TransferCallback::Call(Napi::Env env, int status, uint64_t total) {
  Napi::HandleScope scope(env);
  napi_value args[] = {Napi::Number::New(env, status),
                       Napi::Number::New(env, static_cast<double>(total))};
  fn_.MakeCallback(env.Global(), 2, args, context_);
  if (env.IsExceptionPending()) {
    Napi::Error err = env.GetAndClearPendingException();
    napi_fatal_exception(env, err.Value());
  }
}

}  // namespace sluice
