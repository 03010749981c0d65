// Moves a response body, described as segments, to a socket in bounded
// steps. Plain C++: no Node-API, no libuv; the caller decides how to wait.
#ifndef SLUICE_CORE_PUMP_H_
#define SLUICE_CORE_PUMP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/progress.h"

namespace sluice {
namespace core {

// One piece of a body: a file range (file_fd >= 0) or literal bytes
// (multipart boundaries and part headers).
struct Segment {
  int file_fd;
  int64_t offset;
  uint64_t length;
  std::string bytes;
};

// How file bytes reach the socket: SendfileMover (core/sendfile.h) or
// SpliceMover (core/splice.h).
class FileMover {
 public:
  virtual ~FileMover() = default;
  virtual Progress Move(int out_fd, int in_fd, int64_t* offset,
                        uint64_t count) = 0;
};

// Where a body stands: which segment, how far into it, how much in all.
struct Cursor {
  size_t index = 0;
  uint64_t done_in_segment = 0;
  uint64_t total = 0;
};

// Sends from `*cursor` until every segment is out (kDone), the socket is
// full (kAgain), `budget` bytes went out (kYield), a file ended early (kEof)
// or an error (-errno). Advances `*cursor` by what was sent.
int Pump(int out_fd, std::vector<Segment>* segments, Cursor* cursor,
         FileMover* mover, uint64_t budget);

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_PUMP_H_
