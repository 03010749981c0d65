// One response body sent through io_uring: the per-transfer state machine of
// the io_uring engine. Plain C++ over core/uring (no Node-API, no libuv).
//
// A body is a list of segments (file ranges and literal bytes). File bytes
// move in chains of SQEs, one chain in flight at a time:
//
//   [fill, drain, fill, drain, ...] up to kChainPairs   fresh chunks
//     (fill = SPLICE file->pipe, drain = SPLICE pipe->socket, all linked)
//   [POLL_ADD POLLOUT (LINK), SPLICE pipe->socket]      the socket was full
//   [SPLICE pipe->socket]                               a fill came up short
//   [POLL_ADD POLLOUT]                                  literal bytes wait
//
// Where the kernel has IOSQE_CQE_SKIP_SUCCESS, every op of a chunk chain
// but the last carries it, so the chain posts ONE CQE: from the op that
// stopped it (short, failed, cancelled) or from the last drain. Every op
// before that one ran in full; the ops after it never ran. A linked op
// after a finished one is picked up by the same io-wq worker, so a chain
// of pairs moves several pipe-fulls per hand-off and per wake-up of the
// loop: the io-wq round trip per chunk is the io_uring engine's main cost
// (README, Engines). Without the flag a chain is one pair, two CQEs.
//
// Literal bytes (multipart boundaries and part headers, ~100 bytes each) are
// sent with a plain nonblocking send() from the completion handler when the
// cursor reaches them: they are tiny, already in user memory, and a send()
// on the loop thread costs less than handing a buffer to an io-wq worker
// (IORING_OP_SEND would also need the buffer pinned until its CQE).
//
// Why each chain looks the way it does is in ring.h (what Linux 6.18 really
// does); the points that shape this file:
//  - a short splice breaks its link: the rest of the chain is -ECANCELED,
//    so state changes only from the CQEs of the ops that ran;
//  - the fill asks for at most `pipe capacity - offset % page` bytes, so a
//    page-aligned pipe never comes up short for lack of slots;
//  - -EAGAIN or a short count on the socket side means "full": the remainder
//    waits in the pipe behind a linked POLL_ADD(POLLOUT), never a retry loop;
//  - an aborted body queues IORING_OP_ASYNC_CANCEL for every op it has in
//    flight and is finished only when every CQE it is owed has arrived
//    (cancels included): until then the kernel may still use its socket
//    duplicate and its pipe, and its user_data must not be reused.
#ifndef SLUICE_CORE_URING_BODY_H_
#define SLUICE_CORE_URING_BODY_H_

#include <cstdint>
#include <vector>

#include "core/pipe_pool.h"
#include "core/pump.h"
#include "core/uring/ring.h"

namespace sluice {
namespace core {

// What a CQE completes. user_data = key << kUringTagBits | step <<
// kUringOpBits | op, so a CQE is routed to its body by key and to its op by
// op and step (the pair of a chunk chain), never by position (ring.h
// point 9).
enum class UringOp : uint8_t {
  kFill = 1,    // SPLICE file -> pipe
  kDrain = 2,   // SPLICE pipe -> socket
  kPoll = 3,    // POLL_ADD(POLLOUT) on the socket
  kCancel = 4,  // ASYNC_CANCEL of one of the above
};
constexpr unsigned kUringOpBits = 3;
constexpr unsigned kUringStepBits = 4;
constexpr unsigned kUringTagBits = kUringOpBits + kUringStepBits;
// Pairs of a chunk chain: 8 pipe-fulls (8 MiB with 1 MiB pipes) per
// hand-off. Measured in the README's engine table.
constexpr unsigned kChainPairs = 8;
static_assert(kChainPairs <= (1U << kUringStepBits), "a pair index fits");
// Keys must fit above the tag bits (JS ids are at most 2^53).
constexpr uint64_t kMaxUringKey = (~static_cast<uint64_t>(0)) >> kUringTagBits;

inline uint64_t UringUserData(uint64_t key, UringOp op, unsigned step = 0) {
  return (key << kUringTagBits) |
         (static_cast<uint64_t>(step) << kUringOpBits) |
         static_cast<uint64_t>(op);
}
inline uint64_t UringKeyOf(uint64_t user_data) {
  return user_data >> kUringTagBits;
}
inline UringOp UringOpOf(uint64_t user_data) {
  return static_cast<UringOp>(user_data & ((1U << kUringOpBits) - 1));
}
inline unsigned UringStepOf(uint64_t user_data) {
  return static_cast<unsigned>(user_data >> kUringOpBits) &
         ((1U << kUringStepBits) - 1);
}

class UringBody {
 public:
  // Takes ownership of `sock_fd` (the transfer's duplicate of the socket;
  // O_NONBLOCK, which the kernel relies on: ring.h point 2). `pipes` must
  // outlive the body; a pipe is taken from it for each run of file bytes.
  UringBody(uint64_t key, int sock_fd, std::vector<Segment> segments,
            uint64_t max_chunk, PipePool* pipes);
  // Closes the socket duplicate and gives the pipe back: pooled only if the
  // body finished cleanly with the pipe empty, else closed. Normally runs
  // once finished(); at teardown the ring is destroyed first.
  ~UringBody();

  UringBody(const UringBody&) = delete;
  UringBody& operator=(const UringBody&) = delete;

  // Moves the body on as far as it can without waiting: sends literal bytes
  // and queues the next chain (or, once aborted, the cancels). Does nothing
  // while a chain is in flight. Returns false only when the SQ had no room;
  // nothing was then taken from the ring, so Submit and call again.
  bool Advance(Ring* ring);

  // Takes the pipe the body's file bytes will go through, if it has any,
  // before any byte is sent: out of descriptors (-EMFILE, -ENFILE) the
  // body can then still go out another way. Returns 0 or -errno. The pipe
  // is kept until the body ends, so none is needed in the middle of one.
  int TakePipe();

  // Accounts for one CQE of this body (`step`: the pair of a chunk chain).
  void OnCompletion(UringOp op, unsigned step, int32_t res);

  // Stops the body from outside (cancel): its status becomes `status` and
  // the next Advance queues an ASYNC_CANCEL for every op in flight.
  void Abort(int status);

  // Stopped and owed no more CQEs: status() is final and the body may go.
  bool finished() const { return stopping_ && inflight_ == 0; }
  bool stopping() const { return stopping_; }
  // kDone, kEof or -errno once stopping().
  int status() const { return status_; }
  // Bytes that reached the socket.
  uint64_t total() const { return cursor_.total; }
  // SQEs queued and not yet completed.
  unsigned inflight() const { return inflight_; }
  uint64_t key() const { return key_; }
  bool holds_pipe() const { return has_pipe_; }

 private:
  // Stops with `status`; what is in flight finishes by itself (an internal
  // stop always comes from a CQE, and the ops after it in its chain get
  // -ECANCELED from the broken link).
  void Stop(int status);
  void NextSegment();
  bool QueueChunk(Ring* ring, const Segment& seg, uint64_t left);
  // Sizes of the chain's pairs from `offset` on; returns how many.
  unsigned PlanChain(uint64_t offset, uint64_t left, unsigned max_pairs);
  // A fill or drain CQE of the chunk chain in flight.
  void OnChainCompletion(UringOp op, unsigned step, int32_t res);
  // Op `index` of the chunk chain (2 * pair, + 1 for the drain) ran in full.
  void AccountInFull(unsigned index);
  // A drain not part of a chunk chain: what the pipe held (drain_asked_).
  void OnDrainCompletion(int32_t res);
  bool QueueDrain(Ring* ring);
  bool QueuePoll(Ring* ring);
  bool QueueCancels(Ring* ring);
  // Whether body bytes follow the next `n` bytes to the socket.
  bool MoreAfter(uint64_t n) const { return cursor_.total + n < length_; }
  void ReleasePipe();

  uint64_t key_;
  int sock_fd_;
  std::vector<Segment> segments_;
  uint64_t length_ = 0;  // sum of segment lengths
  uint64_t max_chunk_;
  PipePool* pipes_;
  Cursor cursor_;  // counts bytes on the socket, not bytes in the pipe

  Pipe pipe_;
  bool has_pipe_ = false;
  uint64_t pipe_capacity_ = 0;
  uint64_t pipe_bytes_ = 0;  // filled, not yet on the socket
  uint64_t drain_asked_ = 0;

  // The chunk chain in flight: bytes of each pair, how many pairs, ops
  // accounted so far (2 per pair), and whether it stopped early.
  uint64_t chain_want_[kChainPairs] = {};
  unsigned chain_pairs_ = 0;
  unsigned chain_done_ = 0;
  bool chain_live_ = false;
  bool chain_skips_ = false;
  bool chain_broken_ = false;

  bool need_poll_ = false;  // the socket said it was full
  unsigned ops_ = 0;        // bit (1 << op) per op in flight, chunk chain aside
  unsigned inflight_ = 0;   // CQEs owed, cancels included
  bool stopping_ = false;
  bool cancel_pending_ = false;
  int status_ = kDone;
};

}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_URING_BODY_H_
