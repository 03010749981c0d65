#include "core/uring/ring.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/force_errno.h"
#include "core/uring/syscall.h"

#ifndef IORING_SETUP_CLAMP
#define IORING_SETUP_CLAMP (1U << 4)
#endif
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
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

void* MapRing(int ring_fd, size_t size, off_t offset) {
  return mmap(nullptr, size, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_POPULATE, ring_fd, offset);
}

}  // namespace

int Ring::Create(unsigned entries, Ring** out, const char** failed_syscall) {
  // Declared up front: the unwind labels below must not jump over
  // initialisations.
  const char* dummy_name = nullptr;
  const char** what = failed_syscall != nullptr ? failed_syscall : &dummy_name;
  io_uring_params p;
  int rc = 0;
  int ring_fd = -1;
  int event_fd = -1;
  void* sq_map = MAP_FAILED;
  void* cq_map = MAP_FAILED;
  void* sqes = MAP_FAILED;
  size_t sq_size = 0;
  size_t cq_size = 0;
  size_t sqes_size = 0;
  bool single_mmap = false;
  uint32_t* sq_array = nullptr;
  Ring* ring = nullptr;

  *out = nullptr;
  *what = "io_uring_setup";
  rc = ForcedErrno("io_uring_setup");
  if (rc != 0) return rc;
  if (entries == 0) return -EINVAL;

  // SUBMIT_ALL (5.18): keep consuming the batch past an SQE that fails
  // prep (it still gets its CQE). Retried without it on older kernels.
  std::memset(&p, 0, sizeof(p));
  p.flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
  ring_fd = SysIoUringSetup(entries, &p);
  if (ring_fd == -EINVAL) {
    std::memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CLAMP;
    ring_fd = SysIoUringSetup(entries, &p);
  }
  if (ring_fd < 0) return ring_fd;

  *what = "mmap";
  sq_size = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  single_mmap = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single_mmap) {
    if (cq_size > sq_size) sq_size = cq_size;
    cq_size = sq_size;
  }
  sq_map = MapRing(ring_fd, sq_size, IORING_OFF_SQ_RING);
  if (sq_map == MAP_FAILED) {
    rc = -errno;
    goto close_ring;
  }
  if (single_mmap) {
    cq_map = sq_map;
  } else {
    cq_map = MapRing(ring_fd, cq_size, IORING_OFF_CQ_RING);
    if (cq_map == MAP_FAILED) {
      rc = -errno;
      goto unmap_sq;
    }
  }
  sqes_size = p.sq_entries * sizeof(io_uring_sqe);
  sqes = MapRing(ring_fd, sqes_size, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    rc = -errno;
    goto unmap_cq;
  }

  // SQ slot i always points at SQE i: GetSqe hands out SQEs in ring order,
  // so the indirection array never needs touching again.
  sq_array = At<uint32_t>(sq_map, p.sq_off.array);
  for (uint32_t i = 0; i < p.sq_entries; ++i) sq_array[i] = i;

  *what = "eventfd";
  event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd < 0) {
    rc = -errno;
    goto unmap_sqes;
  }
  *what = "io_uring_register";
  rc = ForcedErrno("io_uring_register");
  if (rc == 0) {
    rc = SysIoUringRegister(ring_fd, IORING_REGISTER_EVENTFD, &event_fd, 1);
  }
  if (rc < 0) goto close_eventfd;

  *what = "new";
  ring = new (std::nothrow) Ring();
  if (ring == nullptr) {
    rc = -ENOMEM;
    goto close_eventfd;
  }
  ring->ring_fd_ = ring_fd;
  ring->event_fd_ = event_fd;
  ring->features_ = p.features;
  ring->sq_map_ = sq_map;
  ring->sq_map_size_ = sq_size;
  ring->cq_map_ = cq_map;
  ring->cq_map_size_ = cq_size;
  ring->sqes_ = static_cast<io_uring_sqe*>(sqes);
  ring->sqes_size_ = sqes_size;
  ring->sq_khead_ = At<unsigned>(sq_map, p.sq_off.head);
  ring->sq_ktail_ = At<unsigned>(sq_map, p.sq_off.tail);
  ring->sq_kflags_ = At<unsigned>(sq_map, p.sq_off.flags);
  ring->sq_mask_ = *At<unsigned>(sq_map, p.sq_off.ring_mask);
  ring->sq_entries_ = *At<unsigned>(sq_map, p.sq_off.ring_entries);
  ring->sqe_tail_ = LoadRelaxed(ring->sq_ktail_);
  ring->cq_khead_ = At<unsigned>(cq_map, p.cq_off.head);
  ring->cq_ktail_ = At<unsigned>(cq_map, p.cq_off.tail);
  ring->cq_koverflow_ = At<unsigned>(cq_map, p.cq_off.overflow);
  ring->cqes_ = At<io_uring_cqe>(cq_map, p.cq_off.cqes);
  ring->cq_mask_ = *At<unsigned>(cq_map, p.cq_off.ring_mask);
  ring->cq_entries_ = *At<unsigned>(cq_map, p.cq_off.ring_entries);
  *what = nullptr;
  *out = ring;
  return 0;

close_eventfd:
  close(event_fd);
unmap_sqes:
  munmap(sqes, sqes_size);
unmap_cq:
  if (cq_map != sq_map) munmap(cq_map, cq_size);
unmap_sq:
  munmap(sq_map, sq_size);
close_ring:
  close(ring_fd);
  return rc;
}

Ring::~Ring() {
  // Closing the ring fd cancels whatever is still in flight; the kernel
  // finishes tearing the ring down asynchronously and drops its references
  // to the files those requests held (see ring.h on fd lifetime).
  munmap(sqes_, sqes_size_);
  if (cq_map_ != sq_map_) munmap(cq_map_, cq_map_size_);
  munmap(sq_map_, sq_map_size_);
  close(ring_fd_);
  close(event_fd_);
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
