#include "core/dup_socket.h"

#include <fcntl.h>

#include <cerrno>

#include "core/force_errno.h"

namespace sluice {
namespace core {

int DupSocket(int sock_fd) {
  int forced = ForcedErrno("dup");
  if (forced < 0) return forced;
  int fd = fcntl(sock_fd, F_DUPFD_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

}  // namespace core
}  // namespace sluice
