#ifndef SLUICE_BIND_THREAD_H_
#define SLUICE_BIND_THREAD_H_

#include <napi.h>

namespace sluice {

Napi::Value IdleThisThread(const Napi::CallbackInfo& info);

}  // namespace sluice

#endif  // SLUICE_BIND_THREAD_H_
