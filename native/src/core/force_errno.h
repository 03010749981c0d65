// Test hook: SLUICE_FORCE_ERRNO makes named syscalls fail without being made.
//
//   SLUICE_FORCE_ERRNO=io_uring_setup:EPERM
//   SLUICE_FORCE_ERRNO=io_uring_register:ENOSYS,io_uring_setup:ENOMEM
//
// Comma-separated `syscall:ERRNO_NAME` pairs (a decimal errno number is also
// accepted); spaces around items are ignored, unknown errno names and
// malformed items are ignored. When a name appears twice the first wins. The
// variable is read and parsed once, on the first call, so tests must set it
// before the first use (or in a child process).
//
// Call sites today: io_uring_setup and io_uring_register (core/uring/ring.cc),
// dup (core/dup_socket.cc), pipe2 (core/pipe_pool.cc).
#ifndef SLUICE_CORE_FORCE_ERRNO_H_
#define SLUICE_CORE_FORCE_ERRNO_H_

namespace sluice {
namespace core {

// -errno to fake for `syscall_name`, or 0 to make the real call.
int ForcedErrno(const char* syscall_name);

// The same lookup over an explicit spec string (pure; for unit tests).
// `spec` may be nullptr.
int ForcedErrnoFromSpec(const char* spec, const char* syscall_name);

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_FORCE_ERRNO_H_
