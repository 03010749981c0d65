// Access log lines for the replies the front door sends, made here rather
// than in JS so a logged reply costs no call into JS: the same bytes
// server/src/access-log.ts writes for a response Node answered (combined
// format, or one JSON object per line), from the request head the reply
// answered. Plain C++: no Node-API, no libuv.
#ifndef SLUICE_CORE_FRONT_ACCESS_LINE_H_
#define SLUICE_CORE_FRONT_ACCESS_LINE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {
namespace core {
namespace front {

enum class LogFormat { kCombined, kJson };

// What a line says of one reply.
struct LoggedReply {
  // The client's address as Node names it; empty: unknown ("-", null).
  std::string_view remote;
  // The request head the reply answered (a head the classifier passed).
  std::string_view request_head;
  int status = 0;
  uint64_t body_bytes = 0;
  // From the request head to the reply's last byte.
  uint64_t ms = 0;
  // Wall-clock time of the line, in milliseconds since the epoch.
  int64_t now_ms = 0;
};

// Appends the line for `reply` to `out` and returns true; returns false and
// appends nothing for an answer to `health` (a GET or HEAD of that path,
// with or without a query), or for a head that is not a GET/HEAD request
// line. An empty `health` logs everything.
bool AppendAccessLine(LogFormat format, std::string_view health,
                      const LoggedReply& reply, std::string* out);

}  // namespace front
}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_FRONT_ACCESS_LINE_H_
