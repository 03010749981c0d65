// Sends one front-door Reply on a socket in bounded, non-blocking steps:
// the head and any in-memory body in one sendmsg, then the file with
// sendfile. Plain C++: no Node-API, no libuv; the caller decides how to
// wait.
#ifndef SLUICE_CORE_FRONT_SEND_REPLY_H_
#define SLUICE_CORE_FRONT_SEND_REPLY_H_

#include <cstdint>
#include <ctime>
#include <string>

#include "core/front/reply.h"

namespace sluice {
namespace core {
namespace front {

// Where one connection stands in sending one Reply.
struct ReplyCursor {
  // This send's copy of the head, its Date set to the second it started.
  std::string head;
  // Bytes of head + inline body + file sent so far.
  uint64_t sent = 0;
};

// Makes `cursor` ready to send `reply`, dated `now`.
void StartReply(const Reply& reply, time_t now, ReplyCursor* cursor);

// Sends from `*cursor` until the reply is out (kDone), the socket is full
// (kAgain), `budget` bytes went out in this call and more remain (kYield),
// the file ended before its length (kEof: it shrank while sent) or another
// error (-errno). Advances `*cursor` by what was sent.
int SendReply(int fd, const Reply& reply, ReplyCursor* cursor, uint64_t budget);

}  // namespace front
}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_FRONT_SEND_REPLY_H_
