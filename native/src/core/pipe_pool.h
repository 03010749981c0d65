// A bounded pool of pipes for the splice engine, one per event loop. Plain
// C++: no Node-API, no libuv, not thread-safe (each loop has its own).
//
// Pipes are a budget: each pins its slots in the per-user pipe accounting
// (/proc/sys/fs/pipe-user-pages-soft) whether or not it holds data. So a
// mover holds a pipe only while bytes are in flight, and the pool keeps at
// most `max_idle` empty pipes between uses. Pipes in use are not capped: a
// transfer that finds the pool empty creates one.
#ifndef SLUICE_CORE_PIPE_POOL_H_
#define SLUICE_CORE_PIPE_POOL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice {
namespace core {

// Both ends of a pipe made with pipe2(O_CLOEXEC | O_NONBLOCK).
struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
};

struct PipePoolStats {
  uint64_t idle;     // empty pipes waiting in the pool
  uint64_t in_use;   // pipes handed out and not yet returned
  uint64_t created;  // pipes ever made
  uint64_t closed;   // pipes ever closed (surplus, non-empty or at teardown)
  int pipe_size;     // capacity granted to the last pipe made (0: none yet)
};

class PipePool {
 public:
  static constexpr size_t kDefaultMaxIdle = 64;
  // Capped at /proc/sys/fs/pipe-max-size (1 MiB by default), so this asks
  // for more only where that was raised: the io_uring engine moves a
  // pipe-full per io-wq hand-off, and 8 MiB pipes bring it to the C
  // sendfile loop's CPU per GiB (README, Engines). Past pipe-user-pages-soft
  // (64 MiB of pipes per user) an unprivileged user's pipes shrink: raise
  // both together.
  static constexpr int kTargetPipeSize = 8 << 20;

  explicit PipePool(size_t max_idle = kDefaultMaxIdle,
                    int target_size = kTargetPipeSize);
  ~PipePool();  // closes the idle pipes; pipes in use must be back by now

  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // Hands out an empty pipe: a pooled one, else a new one. Returns 0, or
  // -errno from pipe2 (EMFILE, ENFILE) with `*pipe` untouched. Honours
  // SLUICE_FORCE_ERRNO as `pipe2`.
  int Acquire(Pipe* pipe);

  // Takes back a pipe its user believes empty. It is pooled only if the
  // kernel agrees it is empty and the pool has room; otherwise closed, so
  // bytes meant for one client can never reach another.
  void Release(Pipe pipe);

  // Closes a pipe that may still hold bytes (after an error or a cancel).
  void Discard(Pipe pipe);

  // What every mover does when it lets a pipe go: Release if its own count
  // says the pipe is empty, else Discard.
  void Return(Pipe pipe, bool believed_empty);

  // Closes every idle pipe (the process is short of descriptors); returns
  // how many. Pipes in use are untouched.
  size_t Trim();

  PipePoolStats Stats() const;

 private:
  int Create(Pipe* pipe);
  void Close(Pipe pipe);

  std::vector<Pipe> idle_;
  size_t max_idle_;
  int target_size_;
  bool target_clamped_ = false;
  int last_size_ = 0;
  uint64_t in_use_ = 0;
  uint64_t created_ = 0;
  uint64_t closed_ = 0;
};

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_PIPE_POOL_H_
