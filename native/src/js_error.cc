#include "js_error.h"

#include <uv.h>

#include <string>

namespace sluice {

const char* ErrnoName(int rc) {
  // libuv's error codes are -errno on Unix, so its names match Node's.
  return uv_err_name(rc);
}

Napi::Error ErrnoError(Napi::Env env, int rc, const char* syscall) {
  std::string message = std::string(uv_err_name(rc)) + ": " +
                        uv_strerror(rc) + ", " + syscall;
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("errno", Napi::Number::New(env, rc));
  err.Set("code", Napi::String::New(env, uv_err_name(rc)));
  err.Set("syscall", Napi::String::New(env, syscall));
  return err;
}

}  // namespace sluice
