#ifndef SLUICE_BIND_SPLICE_H_
#define SLUICE_BIND_SPLICE_H_

#include <napi.h>

namespace sluice {

Napi::Value PipePoolStats(const Napi::CallbackInfo& info);
Napi::Value PipePoolTrim(const Napi::CallbackInfo& info);

}  // namespace sluice

#endif  // SLUICE_BIND_SPLICE_H_
