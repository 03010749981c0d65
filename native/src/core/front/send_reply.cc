#include "core/front/send_reply.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "core/pump.h"
#include "core/sendfile.h"

namespace sluice {
namespace core {
namespace front {

namespace {

// Sends what is left of head + inline body; stops at the end of memory or
// on EAGAIN / error. MSG_MORE when a file follows, so a short head leaves
// in the same segment as the start of the file.
int SendMemory(int fd, const std::string& head, const std::string& body,
               bool file_follows, ReplyCursor* cursor, uint64_t* budget) {
  const uint64_t memory = head.size() + body.size();
  while (cursor->sent<memory&& * budget> 0) {
    struct iovec iov[2];
    int count = 0;
    uint64_t at = cursor->sent;
    if (at < head.size()) {
      iov[count++] = {const_cast<char*>(head.data() + at), head.size() - at};
      at = head.size();
    }
    uint64_t in_body = at - head.size();
    if (in_body < body.size()) {
      iov[count++] = {const_cast<char*>(body.data() + in_body),
                      body.size() - in_body};
    }
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (file_follows ? MSG_MORE : 0);
    ssize_t n = sendmsg(fd, &msg, flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EWOULDBLOCK ? kAgain : -errno;
    }
    cursor->sent += static_cast<uint64_t>(n);
    *budget -= std::min<uint64_t>(*budget, static_cast<uint64_t>(n));
  }
  return cursor->sent < memory ? kYield : kDone;
}

}  // namespace

void StartReply(const Reply& reply, time_t now, ReplyCursor* cursor) {
  cursor->head = reply.head();
  cursor->sent = 0;
  if (reply.date_at() != std::string::npos) {
    FormatImfDate(now, &cursor->head[reply.date_at()]);
  }
}

int SendReply(int fd, const Reply& reply, ReplyCursor* cursor,
              uint64_t budget) {
  const bool has_file = reply.file_fd() >= 0 && reply.file_length() > 0;
  int status = SendMemory(fd, cursor->head, reply.inline_body(), has_file,
                          cursor, &budget);
  if (status != kDone) return status;
  const uint64_t memory = cursor->head.size() + reply.inline_body().size();
  const uint64_t total = memory + (has_file ? reply.file_length() : 0);
  while (cursor->sent < total) {
    if (budget == 0) return kYield;
    uint64_t done_in_file = cursor->sent - memory;
    int64_t offset = reply.file_offset() + static_cast<int64_t>(done_in_file);
    uint64_t want = std::min(reply.file_length() - done_in_file, budget);
    Progress p = SendfileSome(fd, reply.file_fd(), &offset, want);
    cursor->sent += p.bytes;
    budget -= std::min(budget, p.bytes);
    if (p.status != kDone) return p.status;
  }
  return kDone;
}

}  // namespace front
}  // namespace core
}  // namespace sluice
