// The result every byte-moving step in core reports.
#ifndef SLUICE_CORE_PROGRESS_H_
#define SLUICE_CORE_PROGRESS_H_

#include <cerrno>
#include <cstdint>

namespace sluice {
namespace core {

// Status values shared by every engine and passed unchanged to JS:
// >= 0 are outcomes, < 0 are -errno.
constexpr int kDone = 0;         // everything asked for was sent
constexpr int kEof = 1;          // the file ended before the promised length
constexpr int kAgain = -EAGAIN;  // the socket is full; wait for POLLOUT

// The budget for this step is used up and bytes remain: yield to the event
// loop, then continue when the socket is writable. Never leaves core.
constexpr int kYield = 2;

// The body continues asynchronously (on a poll or on the ring) and a
// callback reports its end; JS sees this value as PENDING.
constexpr int kPending = 2;

struct Progress {
  uint64_t bytes;  // bytes moved to the socket by this call
  int status;      // kDone, kEof, kAgain or another -errno
};

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_PROGRESS_H_
