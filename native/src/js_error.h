// The only place that builds native errors for JS: shaped like Node's own
// UVException (message "EPIPE: broken pipe, sendfile", negative errno,
// code, syscall).
#ifndef SLUICE_JS_ERROR_H_
#define SLUICE_JS_ERROR_H_

#include <napi.h>

namespace sluice {

// rc is -errno (as core returns it).
Napi::Error ErrnoError(Napi::Env env, int rc, const char* syscall);

// Name of -errno as Node spells it ("EPIPE"), for capability reports.
const char* ErrnoName(int rc);

}  // namespace sluice

#endif  // SLUICE_JS_ERROR_H_
