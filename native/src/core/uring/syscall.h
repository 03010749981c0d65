// Raw io_uring system calls. There is no liburing on the build machines and
// none may be added, so these three wrappers are the only places that issue
// io_uring_* syscalls. Each returns the syscall's result, or -errno on
// failure; errno is read immediately after the call and callers never look at
// the global errno.
#ifndef SLUICE_CORE_URING_SYSCALL_H_
#define SLUICE_CORE_URING_SYSCALL_H_

#include <linux/io_uring.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

// glibc ships the numbers since 2.31; older headers may lack them. The numbers
// are the same on every architecture that uses the generic syscall table.
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

namespace sluice {
namespace core {

// io_uring_setup(2): returns the ring fd (O_CLOEXEC) or -errno. Fills *params.
inline int SysIoUringSetup(unsigned entries, io_uring_params* params) {
  int64_t rc = syscall(__NR_io_uring_setup, entries, params);
  return rc < 0 ? -errno : static_cast<int>(rc);
}

// io_uring_enter(2): returns the number of SQEs consumed, or -errno.
// `sig` may be nullptr; when it is not, the kernel wants the size of the
// kernel sigset (_NSIG / 8), not sizeof(sigset_t).
inline int SysIoUringEnter(int ring_fd, unsigned to_submit,
                           unsigned min_complete, unsigned flags,
                           const sigset_t* sig) {
  int64_t rc = syscall(__NR_io_uring_enter, ring_fd, to_submit, min_complete,
                       flags, sig, _NSIG / 8);
  return rc < 0 ? -errno : static_cast<int>(rc);
}

// io_uring_register(2): returns the opcode's result (usually 0) or -errno.
inline int SysIoUringRegister(int ring_fd, unsigned opcode, void* arg,
                              unsigned nr_args) {
  int64_t rc = syscall(__NR_io_uring_register, ring_fd, opcode, arg, nr_args);
  return rc < 0 ? -errno : static_cast<int>(rc);
}

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_URING_SYSCALL_H_
