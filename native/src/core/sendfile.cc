#include "core/sendfile.h"

#include <sys/sendfile.h>
#include <sys/types.h>

#include <cerrno>

namespace sluice {
namespace core {

Progress SendfileSome(int out_fd, int in_fd, int64_t* offset, uint64_t count) {
  Progress p{0, kDone};
  while (p.bytes < count) {
    uint64_t want = count - p.bytes;
    if (want > kMaxSendfileCall) want = kMaxSendfileCall;
    off_t off = static_cast<off_t>(*offset);
    ssize_t n = sendfile(out_fd, in_fd, &off, static_cast<size_t>(want));
    if (n > 0) {
      *offset += n;
      p.bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) {
      // sendfile returns 0 only at end of file: the file is now shorter
      // than the length promised in Content-Length.
      p.status = kEof;
      return p;
    }
    int err = errno;
    if (err == EINTR) continue;
    p.status = (err == EWOULDBLOCK) ? kAgain : -err;
    return p;
  }
  return p;
}

Progress SendfileMover::Move(int out_fd, int in_fd, int64_t* offset,
                             uint64_t count) {
  return SendfileSome(out_fd, in_fd, offset, count);
}

}  // namespace core
}  // namespace sluice
