// Scheduling class of the calling thread. Plain C++: no Node-API, no libuv.
#ifndef SLUICE_CORE_THREAD_PRIORITY_H_
#define SLUICE_CORE_THREAD_PRIORITY_H_

namespace sluice {
namespace core {

// Moves the calling thread (not the process) to SCHED_IDLE: it runs only
// when no other thread of normal priority wants the CPU, and a normal
// thread that wakes up preempts it at once. A nice value of 19 still gets
// a slice's worth of CPU before a waking thread takes over, which a loop
// serving requests on the same core sees as delay. Returns 0 or -errno.
int MakeThisThreadIdle();

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_THREAD_PRIORITY_H_
