#include "core/pipe_pool.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "core/force_errno.h"

namespace sluice {
namespace core {

namespace {

// The largest size an unprivileged F_SETPIPE_SZ may ask for, or -1.
int PipeMaxSize() {
  FILE* f = std::fopen("/proc/sys/fs/pipe-max-size", "re");
  if (f == nullptr) return -1;
  int64_t value = -1;
  if (std::fscanf(f, "%" SCNd64, &value) != 1) value = -1;
  std::fclose(f);
  if (value <= 0 || value > (int64_t{1} << 30)) return -1;
  return static_cast<int>(value);
}

}  // namespace

PipePool::PipePool(size_t max_idle, int target_size)
    : max_idle_(max_idle), target_size_(target_size) {}

PipePool::~PipePool() {
  for (const Pipe& pipe : idle_) Close(pipe);
  idle_.clear();
}

int PipePool::Acquire(Pipe* pipe) {
  if (!idle_.empty()) {
    *pipe = idle_.back();
    idle_.pop_back();
    in_use_++;
    return 0;
  }
  int rc = Create(pipe);
  if (rc == 0) in_use_++;
  return rc;
}

void PipePool::Release(Pipe pipe) {
  in_use_--;
  // One ioctl per chunk buys a guarantee that no stale byte is ever handed
  // to the next transfer, whatever a mover's accounting says.
  int queued = -1;
  if (idle_.size() < max_idle_ && ioctl(pipe.read_fd, FIONREAD, &queued) == 0 &&
      queued == 0) {
    idle_.push_back(pipe);
    return;
  }
  Close(pipe);
}

void PipePool::Discard(Pipe pipe) {
  in_use_--;
  Close(pipe);
}

void PipePool::Return(Pipe pipe, bool believed_empty) {
  if (believed_empty) {
    Release(pipe);
  } else {
    Discard(pipe);
  }
}

PipePoolStats PipePool::Stats() const {
  return PipePoolStats{idle_.size(), in_use_, created_, closed_, last_size_};
}

size_t PipePool::Trim() {
  size_t n = idle_.size();
  for (const Pipe& pipe : idle_) Close(pipe);
  idle_.clear();
  return n;
}

int PipePool::Create(Pipe* pipe) {
  int forced = ForcedErrno("pipe2");
  if (forced < 0) return forced;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -errno;
  if (!target_clamped_) {
    // Read once: the limit is a sysctl that rarely changes, and asking for
    // more than it without CAP_SYS_RESOURCE fails with EPERM.
    int max_size = PipeMaxSize();
    if (max_size > 0 && max_size < target_size_) target_size_ = max_size;
    target_clamped_ = true;
  }
  // Failure is tolerated: past pipe-user-pages-soft an unprivileged user
  // gets EPERM and keeps the default (or a two-page) pipe, which still
  // works, only in smaller steps.
  int size = fcntl(fds[1], F_SETPIPE_SZ, target_size_);
  if (size < 0) size = fcntl(fds[1], F_GETPIPE_SZ);
  last_size_ = size > 0 ? size : 0;
  pipe->read_fd = fds[0];
  pipe->write_fd = fds[1];
  created_++;
  return 0;
}

void PipePool::Close(Pipe pipe) {
  close(pipe.read_fd);
  close(pipe.write_fd);
  closed_++;
}

}  // namespace core
}  // namespace sluice
