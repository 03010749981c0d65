// File bytes to a socket through a pipe with splice(2): no Node-API, no
// libuv. Returns -errno, never throws.
#ifndef SLUICE_CORE_SPLICE_H_
#define SLUICE_CORE_SPLICE_H_

#include <fcntl.h>

#include <cstdint>

#include "core/pipe_pool.h"
#include "core/progress.h"
#include "core/pump.h"

namespace sluice {
namespace core {

// Caps one splice call as sendfile's are (MAX_RW_COUNT); the pipe's
// capacity bounds each file->pipe step far below this anyway.
constexpr uint64_t kMaxSpliceCall = 0x7ffff000;

// The flags of every splice sluice makes, on both sides of the pipe, by
// SpliceMover and by the io_uring engine alike (callers add SPLICE_F_MORE).
//
// SPLICE_F_NONBLOCK makes both steps return EAGAIN instead of sleeping on
// the pipe. Our pipes are O_NONBLOCK, which implies it, but saying so keeps
// the intent local; and under io_uring a fill without it into a full pipe
// parks an io-wq worker until the pipe drains (core/uring/ring.h point 4).
//
// On the file side it does NOT mean "don't wait for the disk": Linux (6.18
// checked) still reads pages missing from the page cache synchronously, as
// sendfile does, and never returns EAGAIN for that. We accept that, as
// nginx does with sendfile: the alternative (IOCB_NOWAIT-style EAGAIN) has
// no fd to wait on, and retrying on POLLOUT would spin.
//
// SPLICE_F_MOVE is only a hint (the kernel has not stolen pages since
// 2.6.21; it takes page-cache references either way).
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

// Moves file bytes file->pipe, then pipe->socket. When the socket fills,
// bytes can be left in the pipe; the mover keeps them (and the pipe) and
// sends them first on the next Move(), which must continue the same file
// range (Pump does). Move() reports only bytes that reached the socket, so
// the caller's cursor never counts bytes still in the pipe.
//
// The pipe comes from `pool` per chunk and goes back as soon as it is
// empty, so only transfers blocked with bytes in their pipe hold one while
// they wait. When no pipe can be had (EMFILE, ENFILE) the run goes out with
// sendfile instead. One mover serves one transfer, on one thread.
class SpliceMover final : public FileMover {
 public:
  explicit SpliceMover(PipePool* pool) : pool_(pool) {}
  // Returns an empty pipe to the pool; closes one that still holds bytes
  // (a cancelled or failed transfer), so they can reach no other client.
  ~SpliceMover() override;

  SpliceMover(const SpliceMover&) = delete;
  SpliceMover& operator=(const SpliceMover&) = delete;

  // Sends up to `count` bytes of `in_fd` from `*offset` to `out_fd`,
  // advancing `*offset` by the bytes that reached `out_fd`. Same outcomes
  // as SendfileSome: kDone, kAgain (the socket is full; bytes may wait in
  // the pipe), kEof (the file ended before `count`: truncated) or -errno.
  Progress Move(int out_fd, int in_fd, int64_t* offset,
                uint64_t count) override;

  // Bytes in the pipe that have not reached the socket yet.
  uint64_t buffered() const { return pipe_bytes_; }

 private:
  int Fill(int in_fd, int64_t offset, uint64_t want);
  void ReturnPipe();

  PipePool* pool_;
  Pipe pipe_;
  bool has_pipe_ = false;
  uint64_t pipe_bytes_ = 0;  // in the pipe, not yet on the socket
  int pipe_in_fd_ = -1;      // the file they came from
  int64_t pipe_offset_ = 0;  // file offset of the first of them
};

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_SPLICE_H_
