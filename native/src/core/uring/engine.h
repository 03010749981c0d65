// The io_uring engine of one event loop: one Ring, the bodies in flight on
// it keyed by transfer id, and the completion dispatch. Plain C++ (no
// Node-API, no libuv): the caller watches eventfd() for readability, calls
// OnWake() and reports the bodies it returns as finished.
#ifndef SLUICE_CORE_URING_ENGINE_H_
#define SLUICE_CORE_URING_ENGINE_H_

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/pipe_pool.h"
#include "core/pump.h"
#include "core/uring/body.h"
#include "core/uring/ring.h"

namespace sluice {
namespace core {

// The ring's TaskRun mode: kDefaultTaskRun unless SLUICE_URING_TASKRUN
// names another ("interrupt", "cooperative", "deferred"), for measuring.
TaskRun TaskRunFromEnv();
// Whether Start() leaves its SQEs for Flush(): kDefaultBatchSubmits unless
// SLUICE_URING_BATCH is "0" or "1", for measuring.
bool BatchSubmitsFromEnv();

struct UringFinished {
  uint64_t key;
  int status;      // kDone, kEof or -errno
  uint64_t total;  // bytes that reached the socket
};

struct UringEngineStats {
  uint64_t bodies;     // started and not yet reported finished
  uint64_t in_flight;  // SQEs queued or running, not yet completed
  uint64_t pipes;      // pipes those bodies hold
};

class UringEngine {
 public:
  // SQ size. A body queues at most one chain at a time (a chunk chain is
  // 2 * kChainPairs SQEs) and, when aborted, a cancel per op of it; a body
  // that finds the SQ full waits in stalled_. The CQ gets twice as many
  // slots and, with IORING_FEAT_NODROP (required by the probe), an
  // overflow is parked in the kernel, not lost.
  static constexpr unsigned kRingEntries = 1024;
  // What the README's engine table measured best.
  static constexpr TaskRun kDefaultTaskRun = TaskRun::kInterrupt;
  static constexpr bool kDefaultBatchSubmits = true;

  // Creates the ring (and its eventfd). Returns 0 and *out (caller
  // deletes), or -errno with the failing syscall's name in *failed_syscall.
  // `pipes` must outlive the engine.
  static int Create(PipePool* pipes, UringEngine** out,
                    const char** failed_syscall);

  // Destroys the ring first (the kernel cancels what is still in flight and
  // drops its own references to our fds), then the bodies: their socket
  // duplicates are closed and their pipes closed, never pooled.
  ~UringEngine();

  UringEngine(const UringEngine&) = delete;
  UringEngine& operator=(const UringEngine&) = delete;

  int eventfd() const { return ring_->eventfd(); }

  // Starts sending `segments` to `sock_fd`, a duplicate of the socket that
  // the engine now owns (closed when the body finishes). Returns kPending,
  // after which OnWake() reports the body exactly once, or the final status
  // (kDone, kEof, -errno) when it finished without touching the ring.
  // -EMFILE or -ENFILE (no pipe to be had) means no byte was sent.
  // `key` must not name a body already in flight and be <= kMaxUringKey.
  int Start(uint64_t key, int sock_fd, std::vector<Segment> segments,
            uint64_t max_chunk);

  // With batched submits, Start() queues SQEs without entering the
  // kernel: one io_uring_enter for every body started in a turn of the
  // caller's loop. Call Flush() before the loop waits whenever
  // HasUnsubmitted(); a body left unsubmitted would never move.
  void Flush();
  bool HasUnsubmitted() const;

  // Aborts a body in flight: it finishes with `status` once every CQE it is
  // owed has come back (ASYNC_CANCEL for each op in flight). False if `key`
  // is unknown or the body is already stopping.
  bool Cancel(uint64_t key, int status);

  bool Has(uint64_t key) const { return bodies_.count(key) != 0; }

  // Bytes a body in flight has put on its socket so far, or -1 if `key` is
  // unknown (for the idle-send timeout).
  int64_t Progress(uint64_t key) const;

  // Call when eventfd() is readable: clears it, drains every CQE, moves
  // each body on, submits, and returns the bodies that finished (each once,
  // already destroyed: fd closed, pipe returned).
  std::vector<UringFinished> OnWake();

  UringEngineStats Stats() const;

 private:
  UringEngine(Ring* ring, PipePool* pipes, bool batch_submits)
      : ring_(ring), pipes_(pipes), batch_submits_(batch_submits) {}

  // Advance with one Submit-and-retry when the SQ is full; a body that
  // still gets no room waits in stalled_. A finished body moves to done_.
  void Service(UringBody* body);
  void Submit();
  void RetryStalled();
  // Makes the eventfd readable so OnWake runs on the next loop turn: for
  // bodies that finished (or stalled) outside a wake-up.
  void WakeSoon();

  Ring* ring_;
  PipePool* pipes_;
  bool batch_submits_;
  std::unordered_map<uint64_t, std::unique_ptr<UringBody>> bodies_;
  std::vector<uint64_t> stalled_;
  std::vector<UringFinished> done_;
};

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_URING_ENGINE_H_
