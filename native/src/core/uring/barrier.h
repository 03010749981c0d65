// Memory ordering for the rings shared with the kernel, in one place.
//
// The SQ and CQ head/tail words live in memory mapped from the ring fd and are
// read and written concurrently by the kernel. The protocol (as liburing and
// io_uring(7) describe it):
//   - SQ tail: written by us with StoreRelease, after the SQEs it publishes
//     are fully written; the kernel pairs it with an acquire.
//   - SQ head: written by the kernel; LoadAcquire before reusing SQE slots.
//   - CQ tail: written by the kernel; LoadAcquire before reading CQEs.
//   - CQ head: written by us with StoreRelease after the CQEs it returns to
//     the kernel have been read (so the kernel cannot overwrite a slot we are
//     still reading).
// std::atomic_ref is C++20, and casting plain memory to std::atomic<T>* is
// not guaranteed; the GCC/Clang __atomic builtins work on plain objects.
#ifndef SLUICE_CORE_URING_BARRIER_H_
#define SLUICE_CORE_URING_BARRIER_H_

namespace sluice {
namespace core {

template <class T>
inline T LoadAcquire(const T* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

template <class T>
inline T LoadRelaxed(const T* p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

template <class T>
inline void StoreRelease(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

template <class T>
inline void StoreRelaxed(T* p, T v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_URING_BARRIER_H_
