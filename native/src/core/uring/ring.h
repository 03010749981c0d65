// One io_uring instance: plain C++ over raw syscalls (no liburing, no
// Node-API, no libuv). Returns -errno, never throws, never leaves a meaning in
// the global errno.
//
// The engine keeps one Ring per event loop, watches eventfd() with a uv_poll_t
// and, on each wakeup, calls ReadEventfd() and then DrainCompletions().
// Completions are routed by user_data (a request table index), never by fd.
//
// What the engine must expect (verified on Linux 6.18 by
// native/test/uring/; kernel behaviour, not ours):
//
//  1. Every IORING_OP_SPLICE runs in an io-wq worker thread (io_uring never
//     issues splice inline), whatever the flags. With nonblocking sockets the
//     pool stays tiny (1-2 "iou-wrk" threads for 4 busy transfers); any
//     splice that can block pins one worker for as long as it blocks.
//  2. pipe->socket: the SOCKET's O_NONBLOCK decides. SPLICE_F_NONBLOCK only
//     covers the pipe side. On an O_NONBLOCK socket (Node's sockets are, and
//     an F_DUPFD duplicate shares the flag: never clear it on the dup) the
//     splice returns -EAGAIN when nothing fitted, or a SHORT count when part
//     did. TCP loopback mostly gives short counts, AF_UNIX both. io_uring
//     does not arm its internal poll for splice: -EAGAIN is final, the engine
//     must queue POLL_ADD(POLLOUT) (linked to the retry splice) itself. On a
//     BLOCKING socket the splice parks an io-wq worker inside sendmsg.
//  3. Links: a splice that moves fewer bytes than asked (0 included) breaks
//     its link, and every later SQE of the chain completes -ECANCELED. The
//     file->pipe fill comes up short at EOF (0 = the file shrank: destroy,
//     never pad), when the chunk exceeds the pipe, and whenever the pipe
//     lacks PAGE slots: a pipe holds N pages, not N bytes, so 1 MiB from an
//     unaligned file offset (257 pages) into an empty 1 MiB pipe moves
//     1048575 bytes. Fill `capacity - offset % 4096` bytes to keep the chain
//     intact; after a -ECANCELED drain, push what the pipe holds (drain-only).
//  4. Always put SPLICE_F_NONBLOCK on the fill too: into a full pipe it gives
//     -EAGAIN; without it the fill parks a worker until the pipe drains.
//  5. Peer gone: the drain gets -EPIPE (AF_UNIX) or, over TCP after an RST,
//     -ECONNRESET first and -EPIPE afterwards; the rest of the chain is
//     -ECANCELED. No SIGPIPE reaches the process even with SIG_DFL
//     (presumably because the send runs in the worker thread).
//  6. ASYNC_CANCEL of a pending POLL_ADD: the poll completes -ECANCELED, the
//     splice linked after it -ECANCELED, the cancel itself 0; cancelling
//     again gives -ENOENT. Cancelling a splice blocked in io-wq gives
//     -EALREADY and the splice completes with -512 (-ERESTARTSYS, a kernel-
//     internal code that is NOT a valid errno: uv_err_name does not know it;
//     treat it as -EINTR / aborted). A cancel never makes a request vanish:
//     wait for every CQE of a transfer before reusing its user_data, its pipe
//     or closing its dup; the pipe may still hold bytes (discard or retire).
//  7. An in-flight request holds a reference to its file: closing every fd of
//     a socket (Node's and our dup) does NOT close the connection while a
//     POLL_ADD or splice on it is pending. Abort = ASYNC_CANCEL what is in
//     flight; the peer sees the hangup once those requests have completed.
//  8. CQ overflow: with IORING_FEAT_NODROP, excess completions are parked in
//     the kernel and IORING_SQ_CQ_OVERFLOW is set; Submit did not fail with
//     -EBUSY on 6.18 (older kernels may). DrainCompletions flushes them with
//     an IORING_ENTER_GETEVENTS enter, in order, none dropped.
//  9. A linked chain completes in order, but CQEs of other requests can land
//     between its members: route by user_data, never by position.
// 10. Deleting a Ring with requests in flight returns at once; the kernel
//     cancels them and releases their files shortly after.
//
// Setup flags are CLAMP | SUBMIT_ALL, plus what TaskRun asks for. No SQPOLL
// (a kernel thread per ring). How each TaskRun mode measured is in the
// README's engine table.
#ifndef SLUICE_CORE_URING_RING_H_
#define SLUICE_CORE_URING_RING_H_

#include <linux/io_uring.h>

#include <cstdint>
#include <string>

#include "core/uring/barrier.h"

#ifndef IORING_SQ_CQ_OVERFLOW
#define IORING_SQ_CQ_OVERFLOW (1U << 1)
#endif
#ifndef IORING_FEAT_SINGLE_MMAP
#define IORING_FEAT_SINGLE_MMAP (1U << 0)
#endif
#ifndef IORING_FEAT_NODROP
#define IORING_FEAT_NODROP (1U << 1)
#endif
#ifndef IORING_FEAT_CQE_SKIP
#define IORING_FEAT_CQE_SKIP (1U << 11)
#endif

namespace sluice {
namespace core {

// When the kernel runs a ring's task work (the step that turns a finished
// poll, or a finished io-wq request under DEFER_TASKRUN, into a CQE).
enum class TaskRun {
  // Default: an interrupt (IPI) makes the thread run it at once, asleep in
  // epoll_wait or not.
  kInterrupt,
  // IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG (5.19): no interrupt; the work
  // waits for the thread's next return from the kernel, and the kernel sets
  // IORING_SQ_TASKRUN meanwhile.
  kCooperative,
  // IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG (6.1): the
  // work waits until the thread enters with GETEVENTS. The registered
  // eventfd is not signalled for every completion this way, so after each
  // submit the engine checks IORING_SQ_TASKRUN and the CQ itself.
  kDeferred,
};

class Ring {
 public:
  // Sets up a ring of at least `entries` SQEs (clamped by the kernel; the CQ
  // gets twice as many) and registers a fresh eventfd(EFD_NONBLOCK |
  // EFD_CLOEXEC) with it. Returns 0 and *out (caller deletes), or -errno
  // (-EPERM under Docker's default seccomp, -ENOSYS without io_uring) with
  // *out = nullptr. If `failed_syscall` is given it is set to the name of the
  // call that failed: "io_uring_setup", "mmap", "eventfd",
  // "io_uring_register", or "new" when out of memory. Honours
  // SLUICE_FORCE_ERRNO for io_uring_setup and io_uring_register
  // (core/force_errno.h).
  // `task_run` is what to ask for; a kernel that refuses it (EINVAL) gets
  // the default, and task_run() says what the ring has.
  static int Create(unsigned entries, Ring** out,
                    const char** failed_syscall = nullptr,
                    TaskRun task_run = TaskRun::kInterrupt);

  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // IORING_REGISTER_PROBE: 0 when IORING_OP_SPLICE, IORING_OP_POLL_ADD and
  // IORING_OP_ASYNC_CANCEL are all supported and CQEs cannot be dropped
  // (IORING_FEAT_NODROP), else -EOPNOTSUPP, or the register error.
  int Probe();

  // Next free SQE, or nullptr when the SQ is full (Submit, then retry). The
  // SQE is NOT cleared here: the Prep* helpers in sqe.h clear it. Nothing is
  // visible to the kernel before Submit().
  io_uring_sqe* GetSqe() {
    unsigned head = LoadAcquire(sq_khead_);
    if (sqe_tail_ - head >= sq_entries_) return nullptr;
    io_uring_sqe* sqe = &sqes_[sqe_tail_ & sq_mask_];
    ++sqe_tail_;
    return sqe;
  }

  // All-or-nothing GetSqe for a linked chain of `n` SQEs: true and out[0..n)
  // filled, or false and nothing taken. Use it for chains so a full SQ never
  // leaves a dangling IOSQE_IO_LINK head.
  bool GetSqes(unsigned n, io_uring_sqe** out) {
    if (SqSpaceLeft() < n) return false;
    for (unsigned i = 0; i < n; ++i) out[i] = GetSqe();
    return true;
  }

  // SQEs that GetSqe can still hand out.
  unsigned SqSpaceLeft() const {
    return sq_entries_ - (sqe_tail_ - LoadAcquire(sq_khead_));
  }

  // SQEs taken with GetSqe and not yet consumed by the kernel.
  unsigned SqPending() const { return sqe_tail_ - LoadAcquire(sq_khead_); }

  // Publishes every SQE taken since the last Submit with ONE store-release of
  // the SQ tail (so a linked chain is never seen half-written), then
  // io_uring_enter(to_submit = pending, min_complete = 0, flags = 0). EINTR
  // is retried; if the kernel consumed fewer than asked it is asked again.
  // Returns the number consumed (>= 0) or -errno when none could be:
  // -EBUSY / -EAGAIN mean completion pressure: DrainCompletions() and retry
  // (the SQEs stay queued and the next Submit sends them).
  int Submit();

  // Calls fn(uint64_t user_data, int32_t res, uint32_t flags) for every CQE
  // until the CQ is empty, returning how many it saw. Each CQE is copied out
  // and its slot handed back (CQ head store-release) BEFORE fn runs, so fn
  // may GetSqe/Submit and even call DrainCompletions again. If the kernel
  // flagged an overflow (IORING_SQ_CQ_OVERFLOW: more completions than CQ
  // slots; with IORING_FEAT_NODROP they are parked in the kernel, not lost)
  // this enters the kernel with IORING_ENTER_GETEVENTS to flush them into
  // the CQ and keeps draining: after it returns, nothing is pending.
  template <class F>
  unsigned DrainCompletions(F&& fn) {
    unsigned seen = 0;
    for (;;) {
      unsigned head = LoadRelaxed(cq_khead_);  // only we write the CQ head
      unsigned tail = LoadAcquire(cq_ktail_);
      if (head == tail) {
        if (!CqOverflowPending() || FlushOverflow() <= 0) break;
        continue;
      }
      const io_uring_cqe* cqe = &cqes_[head & cq_mask_];
      uint64_t user_data = cqe->user_data;
      int32_t res = cqe->res;
      uint32_t flags = cqe->flags;
      StoreRelease(cq_khead_, head + 1);
      ++seen;
      fn(user_data, res, flags);
    }
    return seen;
  }

  // Has the kernel run this ring's pending task work, so that its CQEs are
  // in the CQ: needed before DrainCompletions whenever TaskWorkPending()
  // (kCooperative and kDeferred), never under kInterrupt. Returns 0 or
  // -errno.
  int RunTaskWork();

  // Whether RunTaskWork() has anything to do right now (the kernel sets
  // IORING_SQ_TASKRUN when it queues task work; never under kInterrupt).
  bool TaskWorkPending() const {
    return task_run_ != TaskRun::kInterrupt &&
           (LoadAcquire(sq_kflags_) & kSqTaskRun) != 0;
  }

  // Whether the CQ holds completions not yet drained.
  bool CqReady() const {
    return LoadAcquire(cq_ktail_) != LoadRelaxed(cq_khead_);
  }

  TaskRun task_run() const { return task_run_; }

  // Clears the eventfd counter (read(2) of 8 bytes). 0 on success or when it
  // was already clear (EAGAIN), else -errno. Call it BEFORE
  // DrainCompletions, so a completion posted during the drain rearms it.
  int ReadEventfd();

  // True when the kernel holds completions that did not fit in the CQ.
  bool CqOverflowPending() const {
    return (LoadRelaxed(sq_kflags_) & IORING_SQ_CQ_OVERFLOW) != 0;
  }

  // Completions the kernel had to drop (only possible without
  // IORING_FEAT_NODROP, or if it could not allocate an overflow entry).
  unsigned CqDropped() const { return LoadRelaxed(cq_koverflow_); }

  int eventfd() const { return event_fd_; }
  int ring_fd() const { return ring_fd_; }
  unsigned sq_entries() const { return sq_entries_; }
  unsigned cq_entries() const { return cq_entries_; }
  unsigned features() const { return features_; }
  // Whether IOSQE_CQE_SKIP_SUCCESS works here (5.17).
  bool skips_cqes() const { return (features_ & IORING_FEAT_CQE_SKIP) != 0; }

 private:
  Ring() = default;

  // Create's steps after io_uring_setup, split as liburing splits its
  // setup. Each leaves the ring so that ~Ring undoes exactly what was done.

  // Maps the SQ ring, the CQ ring (the same mapping under
  // IORING_FEAT_SINGLE_MMAP) and the SQE array, sized from the offsets in
  // `p`. Returns 0, or -errno with nothing left mapped.
  int MapRings(const io_uring_params& p);
  // Undoes MapRings, in whole or in part.
  void UnmapRings();
  // Points the head, tail, flag and CQE fields into the mappings at the
  // offsets in `p`, and maps SQ slot i to SQE i once for all.
  void SetupRingPointers(const io_uring_params& p);
  // Creates the eventfd and registers it with the ring. Returns 0, or
  // -errno with *what naming the call that failed.
  int RegisterEventfd(const char** what);

  // io_uring_enter(GETEVENTS, min_complete = 0): moves overflowed CQEs into
  // the CQ. Returns 1 if the CQ tail moved, 0 if not, or -errno.
  int FlushOverflow();

  // IORING_SQ_TASKRUN (5.19).
  static constexpr unsigned kSqTaskRun = 1U << 2;

  int ring_fd_ = -1;
  int event_fd_ = -1;
  TaskRun task_run_ = TaskRun::kInterrupt;
  unsigned features_ = 0;

  void* sq_map_ = nullptr;
  size_t sq_map_size_ = 0;
  void* cq_map_ = nullptr;  // == sq_map_ with IORING_FEAT_SINGLE_MMAP
  size_t cq_map_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;

  unsigned* sq_khead_ = nullptr;
  unsigned* sq_ktail_ = nullptr;
  unsigned* sq_kflags_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned sqe_tail_ = 0;  // ours: next SQE to hand out; published by Submit

  unsigned* cq_khead_ = nullptr;
  unsigned* cq_ktail_ = nullptr;
  unsigned* cq_koverflow_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cq_mask_ = 0;
  unsigned cq_entries_ = 0;
};

// Can this process use the io_uring engine? Creates a small ring, probes it
// and destroys it. Returns 0, or -errno with the failing syscall's name in
// *why ("io_uring_setup", "io_uring_register"; also "mmap"/"eventfd").
int ProbeUring(std::string* why);

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_URING_RING_H_
