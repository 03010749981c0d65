#include "core/thread_priority.h"

#include <sched.h>

#include <cerrno>

namespace sluice {
namespace core {

int MakeThisThreadIdle() {
  sched_param param{};
  param.sched_priority = 0;
  // pid 0 = the calling thread: Linux schedules threads, not processes.
  if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) return -errno;
  return 0;
}

}  // namespace core
}  // namespace sluice
