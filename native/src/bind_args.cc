#include "bind_args.h"

#include <cmath>
#include <string>

namespace sluice {

bool IsWholeNumber(const Napi::Value& v, double min, double max) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && std::floor(d) == d && d >= min && d <= max;
}

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

bool ReadSegments(const Napi::CallbackInfo& info, size_t i,
                  std::vector<core::Segment>* out) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) {
    Napi::TypeError::New(env, "The \"segments\" argument must be an array")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array list = info[i].As<Napi::Array>();
  out->reserve(list.Length());
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value item = list[k];
    if (item.IsBuffer()) {
      Napi::Buffer<char> buf = item.As<Napi::Buffer<char>>();
      out->push_back(core::Segment{-1, 0, buf.Length(),
                                   std::string(buf.Data(), buf.Length())});
      continue;
    }
    Napi::Array triple =
        item.IsArray() ? item.As<Napi::Array>() : Napi::Array();
    if (item.IsArray() && triple.Length() == 3 &&
        IsWholeNumber(triple[0u], 0, kMaxFd) &&
        IsWholeNumber(triple[1u], 0, kMaxSafeInteger) &&
        IsWholeNumber(triple[2u], 0, kMaxSafeInteger)) {
      double fd = triple.Get(0u).As<Napi::Number>().DoubleValue();
      double offset = triple.Get(1u).As<Napi::Number>().DoubleValue();
      double count = triple.Get(2u).As<Napi::Number>().DoubleValue();
      out->push_back(
          core::Segment{static_cast<int>(fd), static_cast<int64_t>(offset),
                        static_cast<uint64_t>(count), std::string()});
      continue;
    }
    Napi::TypeError::New(env, "Each segment must be a Buffer or an "
                              "[fd, offset, count] array")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace sluice
