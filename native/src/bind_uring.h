#ifndef SLUICE_BIND_URING_H_
#define SLUICE_BIND_URING_H_

#include <napi.h>

namespace sluice {

Napi::Value UringProbe(const Napi::CallbackInfo& info);
Napi::Value UringSend(const Napi::CallbackInfo& info);
Napi::Value UringStats(const Napi::CallbackInfo& info);

}  // namespace sluice

#endif  // SLUICE_BIND_URING_H_
