// The socket duplicate every pending transfer runs on. Plain C++: no
// Node-API, no libuv.
#ifndef SLUICE_CORE_DUP_SOCKET_H_
#define SLUICE_CORE_DUP_SOCKET_H_

namespace sluice {
namespace core {

// Returns a new fd (close-on-exec) for the socket `sock_fd`, or -errno.
//
// A transfer that outlives the call that started it must not use Node's fd:
// Node may close it at any time, and the number could then name another
// connection. The duplicate names the same open socket, so it shares its
// O_NONBLOCK flag, which every engine relies on: never clear it on the dup.
// Honours SLUICE_FORCE_ERRNO as `dup` (EMFILE, say).
int DupSocket(int sock_fd);

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_DUP_SOCKET_H_
