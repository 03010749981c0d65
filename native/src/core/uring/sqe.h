// Tiny inline SQE prep helpers. Every Prep* clears the whole SQE first: SQE
// slots are reused round the ring and a stale field (flags, splice_fd_in,
// personality, buf_index...) from an earlier request would change the
// meaning of the new one. user_data and link flags are set afterwards with
// SetUserData / SetLink, so prep order is: Prep*, SetUserData, [SetLink].
#ifndef SLUICE_CORE_URING_SQE_H_
#define SLUICE_CORE_URING_SQE_H_

#include <fcntl.h>
#include <linux/io_uring.h>

#include <cstdint>
#include <cstring>

#ifndef IOSQE_IO_LINK
#define IOSQE_IO_LINK (1U << 2)
#endif
#ifndef IOSQE_CQE_SKIP_SUCCESS
#define IOSQE_CQE_SKIP_SUCCESS (1U << 6)
#endif

namespace sluice {
namespace core {

// "No offset" for a splice side that is a pipe (or a socket): the kernel
// requires exactly (u64)-1 there, anything else is -ESPIPE.
constexpr uint64_t kSpliceNoOffset = ~static_cast<uint64_t>(0);

inline void PrepClear(io_uring_sqe* sqe) { std::memset(sqe, 0, sizeof(*sqe)); }

// IORING_OP_SPLICE: moves up to `nbytes` from fd_in to fd_out, one of which
// must be a pipe. off_in / off_out: a file offset for a regular file (the
// file position is neither used nor moved), kSpliceNoOffset for a pipe or a
// socket. splice_flags: SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE.
inline void PrepSplice(io_uring_sqe* sqe, int fd_in, uint64_t off_in,
                       int fd_out, uint64_t off_out, unsigned nbytes,
                       unsigned splice_flags) {
  PrepClear(sqe);
  sqe->opcode = IORING_OP_SPLICE;
  sqe->fd = fd_out;
  sqe->off = off_out;
  sqe->splice_off_in = off_in;
  sqe->len = nbytes;
  sqe->splice_flags = splice_flags;
  sqe->splice_fd_in = fd_in;
}

// IORING_OP_POLL_ADD, one-shot: completes once with the ready mask (res > 0,
// POLLOUT / POLLERR / POLLHUP...) or -errno. `poll_mask` is a POLL* mask.
inline void PrepPollAdd(io_uring_sqe* sqe, int fd, unsigned poll_mask) {
  PrepClear(sqe);
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = fd;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  // The kernel reads poll32_events as two swapped 16-bit halves on BE.
  poll_mask = (poll_mask << 16) | (poll_mask >> 16);
#endif
  sqe->poll32_events = poll_mask;
}

// IORING_OP_ASYNC_CANCEL of the request whose user_data is `target`.
// Its own CQE: 0 = found and cancelled, -ENOENT = not found (already
// completed), -EALREADY = found running in io-wq and signalled (its own CQE
// will tell how it ended).
inline void PrepAsyncCancel(io_uring_sqe* sqe, uint64_t target) {
  PrepClear(sqe);
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = target;
}

inline void PrepNop(io_uring_sqe* sqe) {
  PrepClear(sqe);
  sqe->opcode = IORING_OP_NOP;
  sqe->fd = -1;
}

inline void SetUserData(io_uring_sqe* sqe, uint64_t user_data) {
  sqe->user_data = user_data;
}

// Links this SQE to the next one submitted: the next starts only after this
// one completes "successfully" (see ring.h for what that means per opcode).
inline void SetLink(io_uring_sqe* sqe) { sqe->flags |= IOSQE_IO_LINK; }

// No CQE if this SQE succeeds (5.17, IORING_FEAT_CQE_SKIP). A linked op
// that fails or comes up short still posts one, and then the ops it
// cancels post none: a chain of such SQEs ending in a plain one posts
// exactly one CQE, from the op that stopped it or from the last.
inline void SetSkipSuccess(io_uring_sqe* sqe) {
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_URING_SQE_H_
