// sendfile(2) in plain C++ (no Node-API, no libuv): -errno, never throws.
#ifndef SLUICE_CORE_SENDFILE_H_
#define SLUICE_CORE_SENDFILE_H_

#include <cstddef>
#include <cstdint>

#include "core/progress.h"
#include "core/pump.h"

namespace sluice {
namespace core {

// Linux transfers at most 0x7ffff000 bytes per sendfile call (MAX_RW_COUNT).
constexpr uint64_t kMaxSendfileCall = 0x7ffff000;

// Sends up to `count` bytes of `in_fd` starting at `*offset` to `out_fd`,
// advancing `*offset`. Loops over short sends; EINTR is retried. Stops when
// `count` bytes went out (kDone), the socket would block (kAgain), the file
// ended early (kEof: it was truncated under us) or on another error (-errno).
Progress SendfileSome(int out_fd, int in_fd, int64_t* offset, uint64_t count);

// The sendfile engine's FileMover: each Move is one SendfileSome. It holds
// nothing between calls (SpliceMover, by contrast, keeps a pipe).
class SendfileMover final : public FileMover {
 public:
  Progress Move(int out_fd, int in_fd, int64_t* offset,
                uint64_t count) override;
};

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_SENDFILE_H_
