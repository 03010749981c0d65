#include "core/uring/ring.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>

#include "core/force_errno.h"
#include "core/uring/syscall.h"

#ifndef IORING_SETUP_CLAMP
#define IORING_SETUP_CLAMP (1U << 4)
#endif
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_ENTER_GETEVENTS
#define IORING_ENTER_GETEVENTS (1U << 0)
#endif
#ifndef IO_URING_OP_SUPPORTED
#define IO_URING_OP_SUPPORTED (1U << 0)
#endif

namespace sluice {
namespace core {
namespace {

template <class T>
T* At(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

unsigned TaskRunFlags(TaskRun task_run) {
  switch (task_run) {
    case TaskRun::kCooperative:
      return IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    case TaskRun::kDeferred:
      return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
             IORING_SETUP_TASKRUN_FLAG;
    case TaskRun::kInterrupt:
      break;
  }
  return 0;
}

// io_uring_setup(2) with our flags. Returns the ring fd or -errno; fills *p
// and, when the kernel refused the task-run flags (EINVAL), sets *task_run
// to the default it fell back to.
int SetupRingFd(unsigned entries, io_uring_params* p, TaskRun* task_run) {
  // SUBMIT_ALL (5.18): keep consuming the batch past an SQE that fails
  // prep (it still gets its CQE). Retried without it on older kernels.
  std::memset(p, 0, sizeof(*p));
  p->flags =
      IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL | TaskRunFlags(*task_run);
  int ring_fd = SysIoUringSetup(entries, p);
  if (ring_fd != -EINVAL) return ring_fd;
  *task_run = TaskRun::kInterrupt;
  std::memset(p, 0, sizeof(*p));
  p->flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
  ring_fd = SysIoUringSetup(entries, p);
  if (ring_fd != -EINVAL) return ring_fd;
  std::memset(p, 0, sizeof(*p));
  p->flags = IORING_SETUP_CLAMP;
  return SysIoUringSetup(entries, p);
}

// Maps one region of the ring fd into *out. Returns 0 or -errno.
int MapRegion(int ring_fd, size_t size, off_t offset, void** out) {
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, ring_fd, offset);
  if (map == MAP_FAILED) return -errno;
  *out = map;
  return 0;
}

}  // namespace

int Ring::Create(unsigned entries, Ring** out, const char** failed_syscall,
                 TaskRun task_run) {
  const char* unused = nullptr;
  const char** what = failed_syscall != nullptr ? failed_syscall : &unused;
  *out = nullptr;
  *what = "io_uring_setup";
  int rc = ForcedErrno("io_uring_setup");
  if (rc != 0) return rc;
  if (entries == 0) return -EINVAL;

  // Made first, so that on any later failure deleting it undoes exactly
  // what was set up: ~Ring skips the fds and mappings not made yet.
  std::unique_ptr<Ring> ring(new (std::nothrow) Ring());
  if (ring == nullptr) {
    *what = "new";
    return -ENOMEM;
  }
  io_uring_params p;
  int ring_fd = SetupRingFd(entries, &p, &task_run);
  if (ring_fd < 0) return ring_fd;
  ring->ring_fd_ = ring_fd;
  ring->task_run_ = task_run;
  ring->features_ = p.features;
  *what = "mmap";
  rc = ring->MapRings(p);
  if (rc < 0) return rc;
  ring->SetupRingPointers(p);
  rc = ring->RegisterEventfd(what);
  if (rc < 0) return rc;
  *what = nullptr;
  *out = ring.release();
  return 0;
}

int Ring::MapRings(const io_uring_params& p) {
  // Declared before the first goto, which must not jump over them.
  void* sqes = nullptr;
  int rc = 0;
  bool single_mmap = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  sq_map_size_ = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  cq_map_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  if (single_mmap) {
    // One mapping holds both rings, so it must cover the larger.
    if (cq_map_size_ > sq_map_size_) sq_map_size_ = cq_map_size_;
    cq_map_size_ = sq_map_size_;
  }
  rc = MapRegion(ring_fd_, sq_map_size_, IORING_OFF_SQ_RING, &sq_map_);
  if (rc < 0) goto unmap;
  if (single_mmap) {
    cq_map_ = sq_map_;
  } else {
    rc = MapRegion(ring_fd_, cq_map_size_, IORING_OFF_CQ_RING, &cq_map_);
    if (rc < 0) goto unmap;
  }
  sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
  rc = MapRegion(ring_fd_, sqes_size_, IORING_OFF_SQES, &sqes);
  if (rc < 0) goto unmap;
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  return 0;

unmap:
  UnmapRings();
  return rc;
}

void Ring::UnmapRings() {
  if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_size_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_size_);
  sqes_ = nullptr;
  cq_map_ = nullptr;
  sq_map_ = nullptr;
}

void Ring::SetupRingPointers(const io_uring_params& p) {
  sq_khead_ = At<unsigned>(sq_map_, p.sq_off.head);
  sq_ktail_ = At<unsigned>(sq_map_, p.sq_off.tail);
  sq_kflags_ = At<unsigned>(sq_map_, p.sq_off.flags);
  sq_mask_ = *At<unsigned>(sq_map_, p.sq_off.ring_mask);
  sq_entries_ = *At<unsigned>(sq_map_, p.sq_off.ring_entries);
  sqe_tail_ = LoadRelaxed(sq_ktail_);
  cq_khead_ = At<unsigned>(cq_map_, p.cq_off.head);
  cq_ktail_ = At<unsigned>(cq_map_, p.cq_off.tail);
  cq_koverflow_ = At<unsigned>(cq_map_, p.cq_off.overflow);
  cqes_ = At<io_uring_cqe>(cq_map_, p.cq_off.cqes);
  cq_mask_ = *At<unsigned>(cq_map_, p.cq_off.ring_mask);
  cq_entries_ = *At<unsigned>(cq_map_, p.cq_off.ring_entries);

  // SQ slot i always points at SQE i: GetSqe hands out SQEs in ring order,
  // so the indirection array never needs touching again.
  uint32_t* sq_array = At<uint32_t>(sq_map_, p.sq_off.array);
  for (uint32_t i = 0; i < p.sq_entries; ++i) sq_array[i] = i;
}

int Ring::RegisterEventfd(const char** what) {
  *what = "eventfd";
  int event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd < 0) return -errno;
  event_fd_ = event_fd;
  *what = "io_uring_register";
  int rc = ForcedErrno("io_uring_register");
  if (rc != 0) return rc;
  rc = SysIoUringRegister(ring_fd_, IORING_REGISTER_EVENTFD, &event_fd_, 1);
  return rc < 0 ? rc : 0;
}

Ring::~Ring() {
  // Closing the ring fd cancels whatever is still in flight; the kernel
  // finishes tearing the ring down asynchronously and drops its references
  // to the files those requests held (see ring.h on fd lifetime). A ring
  // whose Create failed half way has only some of these to undo.
  UnmapRings();
  if (ring_fd_ >= 0) close(ring_fd_);
  if (event_fd_ >= 0) close(event_fd_);
}

int Ring::Probe() {
  int rc = ForcedErrno("io_uring_register");
  if (rc != 0) return rc;
  if ((features_ & IORING_FEAT_NODROP) == 0) return -EOPNOTSUPP;

  // The kernel wants a zeroed buffer with room for nr_args ops.
  constexpr unsigned kOps = 256;
  alignas(io_uring_probe) unsigned char
      buf[sizeof(io_uring_probe) + kOps * sizeof(io_uring_probe_op)];
  std::memset(buf, 0, sizeof(buf));
  io_uring_probe* probe = reinterpret_cast<io_uring_probe*>(buf);
  rc = SysIoUringRegister(ring_fd_, IORING_REGISTER_PROBE, probe, kOps);
  if (rc < 0) return rc;

  const unsigned needed[] = {IORING_OP_SPLICE, IORING_OP_POLL_ADD,
                             IORING_OP_ASYNC_CANCEL};
  for (unsigned op : needed) {
    if (op >= probe->ops_len ||
        (probe->ops[op].flags & IO_URING_OP_SUPPORTED) == 0) {
      return -EOPNOTSUPP;
    }
  }
  return 0;
}

int Ring::Submit() {
  // One release store publishes every SQE written since the last Submit:
  // the kernel never sees a chain with its tail still being prepared.
  if (LoadRelaxed(sq_ktail_) != sqe_tail_) StoreRelease(sq_ktail_, sqe_tail_);

  int total = 0;
  for (;;) {
    unsigned pending = sqe_tail_ - LoadAcquire(sq_khead_);
    if (pending == 0) return total;
    int rc = SysIoUringEnter(ring_fd_, pending, 0, 0, nullptr);
    if (rc == -EINTR) continue;
    if (rc < 0) return total > 0 ? total : rc;
    if (rc == 0) return total;
    total += rc;
  }
}

int Ring::FlushOverflow() {
  unsigned before = LoadAcquire(cq_ktail_);
  int rc;
  do {
    rc = SysIoUringEnter(ring_fd_, 0, 0, IORING_ENTER_GETEVENTS, nullptr);
  } while (rc == -EINTR);
  if (rc < 0) return rc;
  return LoadAcquire(cq_ktail_) != before ? 1 : 0;
}

int Ring::RunTaskWork() {
  int rc;
  do {
    rc = SysIoUringEnter(ring_fd_, 0, 0, IORING_ENTER_GETEVENTS, nullptr);
  } while (rc == -EINTR);
  return rc < 0 ? rc : 0;
}

int Ring::ReadEventfd() {
  uint64_t value;
  for (;;) {
    ssize_t n = read(event_fd_, &value, sizeof(value));
    if (n == static_cast<ssize_t>(sizeof(value))) return 0;
    if (n >= 0) return -EIO;  // eventfd reads are always 8 bytes
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) return 0;
    return -err;
  }
}

int ProbeUring(std::string* why) {
  Ring* ring = nullptr;
  const char* failed = nullptr;
  int rc = Ring::Create(4, &ring, &failed);
  if (rc < 0) {
    if (why != nullptr) *why = failed != nullptr ? failed : "io_uring_setup";
    return rc;
  }
  rc = ring->Probe();
  delete ring;
  if (rc < 0) {
    if (why != nullptr) *why = "io_uring_register";
    return rc;
  }
  if (why != nullptr) why->clear();
  return 0;
}

}  // namespace core
}  // namespace sluice
