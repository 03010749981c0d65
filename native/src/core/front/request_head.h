// Request heads the front door may answer: a strict subset of HTTP/1.x that
// every supported Node parses the same way; anything else is Node's.
// Plain C++: no Node-API, no libuv.
#ifndef SLUICE_CORE_FRONT_REQUEST_HEAD_H_
#define SLUICE_CORE_FRONT_REQUEST_HEAD_H_

#include <cstddef>
#include <cstdint>

namespace sluice {
namespace core {
namespace front {

// Heads longer than this are Node's.
constexpr size_t kMaxHeadBytes = 8192;

enum class HeadStatus { kPlain, kIncomplete, kHandOver };

struct RequestHead {
  bool is_head = false;
  int minor_version = 1;
  // Bytes through the blank line that ends the head.
  uint32_t head_length = 0;
};

// Parses the head at the start of data[0..size).
HeadStatus ParseRequestHead(const uint8_t* data, size_t size, RequestHead* out);

}  // namespace front
}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_FRONT_REQUEST_HEAD_H_
