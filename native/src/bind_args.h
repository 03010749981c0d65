// Argument unpacking shared by the bind_* files: whole numbers and body
// segments, with the TypeErrors a bad call deserves. No syscalls here.
#ifndef SLUICE_BIND_ARGS_H_
#define SLUICE_BIND_ARGS_H_

#include <napi.h>

#include <cstddef>
#include <vector>

#include "core/pump.h"

namespace sluice {

constexpr double kMaxSafeInteger = 9007199254740991.0;
constexpr double kMaxFd = 2147483647.0;

bool IsWholeNumber(const Napi::Value& v, double min, double max);

// Reads argument i as a whole number in [min, max] or throws a TypeError
// and returns false.
bool ReadWhole(const Napi::CallbackInfo& info, size_t i, const char* name,
               double min, double max, double* out);

// Reads argument i as a body: an array of Buffers (literal bytes, copied)
// and [fd, offset, count] triples (file ranges), in order. Throws a
// TypeError and returns false on anything else.
bool ReadSegments(const Napi::CallbackInfo& info, size_t i,
                  std::vector<core::Segment>* out);

}  // namespace sluice

#endif  // SLUICE_BIND_ARGS_H_
