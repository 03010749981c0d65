#include "core/splice.h"

#include <fcntl.h>
#include <sys/types.h>

#include <cerrno>

#include "core/sendfile.h"

namespace sluice {
namespace core {

SpliceMover::~SpliceMover() { ReturnPipe(); }

Progress SpliceMover::Move(int out_fd, int in_fd, int64_t* offset,
                           uint64_t count) {
  Progress p{0, kDone};
  // Bytes in the pipe are the next ones of this file range; anything else
  // is a caller bug that would send bytes out of order.
  if (pipe_bytes_ > 0 && (in_fd != pipe_in_fd_ || *offset != pipe_offset_)) {
    p.status = -EINVAL;
    return p;
  }
  while (p.bytes < count) {
    if (pipe_bytes_ == 0) {
      int rc = Fill(in_fd, *offset, count - p.bytes);
      if ((rc == -EMFILE || rc == -ENFILE) && !has_pipe_) {
        // No descriptor for a pipe: send this run with sendfile, which
        // needs none, rather than cut a body that may have begun.
        Progress s = SendfileSome(out_fd, in_fd, offset, count - p.bytes);
        p.bytes += s.bytes;
        p.status = s.status;
        return p;
      }
      if (rc != kDone) {
        p.status = rc;
        return p;
      }
    }
    uint64_t left = count - p.bytes;
    uint64_t want = pipe_bytes_ < left ? pipe_bytes_ : left;
    // MSG_MORE while more of this call's bytes follow. Not on the last
    // bytes of a call: the caller may not send again soon (a yield, a
    // literal segment, the end of the body), and a partial frame held by
    // MSG_MORE waits for the next send.
    unsigned flags = kSpliceFlags | (left > want ? SPLICE_F_MORE : 0);
    ssize_t n = splice(pipe_.read_fd, nullptr, out_fd, nullptr,
                       static_cast<size_t>(want), flags);
    if (n > 0) {
      uint64_t sent = static_cast<uint64_t>(n);
      pipe_bytes_ -= sent;
      pipe_offset_ += n;
      *offset += n;
      p.bytes += sent;
      if (pipe_bytes_ == 0) ReturnPipe();
      continue;
    }
    // 0 from a pipe we hold the write end of, with bytes in it, cannot
    // happen; stop rather than loop.
    int err = n == 0 ? EIO : errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      // The socket is full. Keep the pipe and its bytes for the next call.
      p.status = kAgain;
      return p;
    }
    // EPIPE, ECONNRESET...: the bytes in the pipe will never be sent.
    ReturnPipe();
    p.status = -err;
    return p;
  }
  return p;
}

// Moves up to `want` bytes of `in_fd` at `offset` into an empty pipe.
int SpliceMover::Fill(int in_fd, int64_t offset, uint64_t want) {
  if (!has_pipe_) {
    int rc = pool_->Acquire(&pipe_);
    if (rc < 0) return rc;
    has_pipe_ = true;
  }
  if (want > kMaxSpliceCall) want = kMaxSpliceCall;
  for (;;) {
    loff_t off = static_cast<loff_t>(offset);
    // The file offset is passed explicitly: the fd's own position is
    // shared with every other response using this cached fd.
    ssize_t n = splice(in_fd, &off, pipe_.write_fd, nullptr,
                       static_cast<size_t>(want), kSpliceFlags);
    if (n > 0) {
      pipe_bytes_ = static_cast<uint64_t>(n);
      pipe_in_fd_ = in_fd;
      pipe_offset_ = offset;
      return kDone;
    }
    // 0 before `count` bytes: the file ended early, it was truncated.
    // (EAGAIN cannot come from here: the pipe is empty and a regular file
    // never returns it. If it did, the caller would wait for POLLOUT.)
    int status = n == 0 ? kEof : -errno;
    if (status == -EINTR) continue;
    ReturnPipe();  // still empty
    return status;
  }
}

void SpliceMover::ReturnPipe() {
  if (!has_pipe_) return;
  pool_->Return(pipe_, pipe_bytes_ == 0);
  has_pipe_ = false;
  pipe_ = Pipe();
  pipe_bytes_ = 0;
}

}  // namespace core
}  // namespace sluice
