#include "core/write.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sluice {
namespace core {

Progress WriteSome(int out_fd, const uint8_t* data, uint64_t len, bool more) {
  Progress p{0, kDone};
  bool is_socket = true;
  const int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
  while (p.bytes < len) {
    size_t want = static_cast<size_t>(len - p.bytes);
    ssize_t n = is_socket ? send(out_fd, data + p.bytes, want, flags)
                          : write(out_fd, data + p.bytes, want);
    if (n >= 0) {
      p.bytes += static_cast<uint64_t>(n);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == ENOTSOCK && is_socket) {
      is_socket = false;
      continue;
    }
    p.status = (err == EWOULDBLOCK) ? kAgain : -err;
    return p;
  }
  return p;
}

}  // namespace core
}  // namespace sluice
