// Literal bytes (multipart boundaries, part headers) sent to a socket.
#ifndef SLUICE_CORE_WRITE_H_
#define SLUICE_CORE_WRITE_H_

#include <cstddef>
#include <cstdint>

#include "core/progress.h"

namespace sluice {
namespace core {

// Sends up to `len` bytes from `data` with send(MSG_NOSIGNAL | MSG_DONTWAIT),
// or write(2) when the fd is not a socket. Same outcomes as SendfileSome,
// never kEof. `more` (MSG_MORE) tells TCP that body bytes follow at once, so
// a response head leaves in the same segment as the start of its body.
Progress WriteSome(int out_fd, const uint8_t* data, uint64_t len,
                   bool more = false);

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_WRITE_H_
