#include "core/uring/body.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/splice.h"
#include "core/uring/sqe.h"
#include "core/write.h"

namespace sluice {
namespace core {

namespace {

// -ERESTARTSYS: what a splice cancelled inside an io-wq worker completes
// with (ring.h point 6). Kernel-internal, not an errno JS could name.
constexpr int kRestartSys = -512;

unsigned Bit(UringOp op) { return 1U << static_cast<unsigned>(op); }

uint64_t PageSize() {
  static const uint64_t size = [] {
    long v = sysconf(_SC_PAGESIZE);  // NOLINT(runtime/int): sysconf's type
    return v > 0 ? static_cast<uint64_t>(v) : uint64_t{4096};
  }();
  return size;
}

uint64_t Min(uint64_t a, uint64_t b) { return a < b ? a : b; }

}  // namespace

UringBody::UringBody(uint64_t key, int sock_fd, std::vector<Segment> segments,
                     uint64_t max_chunk, PipePool* pipes)
    : key_(key),
      sock_fd_(sock_fd),
      segments_(std::move(segments)),
      max_chunk_(max_chunk > 0 ? max_chunk : 1),
      pipes_(pipes) {
  for (const Segment& seg : segments_) length_ += seg.length;
}

UringBody::~UringBody() {
  if (has_pipe_) {
    // A pipe the kernel may still write into (teardown with ops in flight),
    // or one that holds bytes, must never reach another transfer.
    pipes_->Return(pipe_,
                   inflight_ == 0 && pipe_bytes_ == 0 && status_ == kDone);
  }
  close(sock_fd_);
}

bool UringBody::Advance(Ring* ring) {
  if (stopping_) return QueueCancels(ring);
  if (inflight_ > 0) return true;  // the chain's CQEs say what comes next
  while (cursor_.index < segments_.size()) {
    if (pipe_bytes_ > 0) return QueueDrain(ring);
    const Segment& seg = segments_[cursor_.index];
    uint64_t left = seg.length - cursor_.done_in_segment;
    if (left == 0) {
      NextSegment();
      continue;
    }
    if (seg.file_fd >= 0) return QueueChunk(ring, seg, left);
    if (need_poll_) return QueuePoll(ring);
    const uint8_t* data = reinterpret_cast<const uint8_t*>(seg.bytes.data()) +
                          cursor_.done_in_segment;
    Progress p = WriteSome(sock_fd_, data, left);
    cursor_.done_in_segment += p.bytes;
    cursor_.total += p.bytes;
    if (p.status == kDone) continue;
    if (p.status == kAgain) {
      need_poll_ = true;
      return QueuePoll(ring);
    }
    Stop(p.status);
    return true;
  }
  ReleasePipe();
  Stop(kDone);
  return true;
}

void UringBody::OnCompletion(UringOp op, unsigned step, int32_t res) {
  --inflight_;
  if (op == UringOp::kCancel) return;  // 0, -ENOENT or -EALREADY: no news
  // Only a cancel (ours, or the ring's teardown) produces it.
  if (res == kRestartSys) res = -ECANCELED;
  if (chain_live_ && op != UringOp::kPoll)
    return OnChainCompletion(op, step, res);
  ops_ &= ~Bit(op);
  if (op == UringOp::kDrain) return OnDrainCompletion(res);
  // kPoll: a ready mask (even POLLERR / POLLHUP) lets the next send or
  // drain report the real error; a failed poll stops the body.
  if (res < 0) Stop(res);
}

void UringBody::OnChainCompletion(UringOp op, unsigned step, int32_t res) {
  unsigned index = 2 * step + (op == UringOp::kDrain ? 1 : 0);
  bool last = index + 1 == 2 * chain_pairs_;
  // Without CQE skipping every op posts, in order; after a break the rest
  // come back -ECANCELED and change nothing. With it, this is the chain's
  // one CQE: every op before it ran in full.
  if (!chain_broken_) {
    while (chain_done_ < index) AccountInFull(chain_done_++);
    chain_done_ = index + 1;
    uint64_t want = chain_want_[step];
    if (op == UringOp::kFill) {
      if (res > 0) pipe_bytes_ += static_cast<uint64_t>(res);
      // A short fill is fine: the next Advance pushes what the pipe holds.
      if (res == 0) Stop(kEof);  // the file ended before the promised length
      if (res < 0) Stop(res);
      chain_broken_ = static_cast<uint64_t>(res) != want || res <= 0;
    } else {
      drain_asked_ = want;
      OnDrainCompletion(res);
      chain_broken_ = res <= 0 || static_cast<uint64_t>(res) != want;
    }
  }
  if (chain_skips_ || last) chain_live_ = false;
}

void UringBody::AccountInFull(unsigned index) {
  uint64_t want = chain_want_[index / 2];
  if (index % 2 == 0) {
    pipe_bytes_ += want;
    return;
  }
  pipe_bytes_ -= want;
  cursor_.done_in_segment += want;
  cursor_.total += want;
}

void UringBody::OnDrainCompletion(int32_t res) {
  if (res > 0) {
    uint64_t sent = static_cast<uint64_t>(res);
    pipe_bytes_ -= sent;
    cursor_.done_in_segment += sent;
    cursor_.total += sent;
    // On an O_NONBLOCK socket a short count means it filled up.
    if (sent < drain_asked_) need_poll_ = true;
  } else if (res == -EAGAIN) {
    need_poll_ = true;
  } else if (res == -ECANCELED) {
    // The link broke before us (a short fill, a failed poll) or we were
    // cancelled: the op that broke it reported what happened.
  } else if (res == 0) {
    Stop(-EIO);  // cannot happen with bytes in a pipe we own
  } else {
    Stop(res);  // -EPIPE, -ECONNRESET...
  }
}

void UringBody::Abort(int status) {
  if (stopping_) return;
  Stop(status);
  cancel_pending_ = ops_ != 0 || chain_live_;
}

void UringBody::Stop(int status) {
  if (stopping_) return;
  stopping_ = true;
  status_ = status;
}

int UringBody::TakePipe() {
  bool has_file = false;
  for (const Segment& seg : segments_) has_file |= seg.file_fd >= 0;
  if (!has_file || has_pipe_) return 0;
  int rc = pipes_->Acquire(&pipe_);
  if (rc < 0) return rc;
  has_pipe_ = true;
  // Per pipe, not from the pool's last figure: past the per-user pipe
  // budget a new pipe may get far fewer pages than the one before it.
  int size = fcntl(pipe_.write_fd, F_GETPIPE_SZ);
  pipe_capacity_ = size > 0 ? static_cast<uint64_t>(size) : PageSize();
  return 0;
}

void UringBody::NextSegment() {
  cursor_.index++;
  cursor_.done_in_segment = 0;
  // The pipe (empty here) stays: taking another for a later file range
  // could fail after part of the body went out.
}

unsigned UringBody::PlanChain(uint64_t offset, uint64_t left,
                              unsigned max_pairs) {
  unsigned pairs = 0;
  while (pairs < max_pairs && left > 0) {
    // A pipe holds pages, not bytes: from an unaligned offset the first
    // page is partial (ring.h point 3). Asking for no more than fits keeps
    // the chain from breaking on every chunk.
    uint64_t fits = pipe_capacity_ - offset % PageSize();
    uint64_t want = Min(Min(left, max_chunk_), Min(fits, kMaxSpliceCall));
    chain_want_[pairs++] = want;
    offset += want;
    left -= want;
  }
  return pairs;
}

bool UringBody::QueueChunk(Ring* ring, const Segment& seg, uint64_t left) {
  if (!has_pipe_) {
    int rc = TakePipe();  // Start took it; only a caller that did not gets here
    if (rc < 0) {
      Stop(rc);
      return true;
    }
  }
  uint64_t offset = static_cast<uint64_t>(seg.offset) + cursor_.done_in_segment;
  bool skips = ring->skips_cqes();
  unsigned pairs = PlanChain(offset, left, skips ? kChainPairs : 1);
  io_uring_sqe* sqe[2 * kChainPairs];
  if (!ring->GetSqes(2 * pairs, sqe)) return false;
  uint64_t queued = 0;
  for (unsigned i = 0; i < pairs; ++i) {
    uint64_t want = chain_want_[i];
    io_uring_sqe* fill = sqe[2 * i];
    io_uring_sqe* drain = sqe[2 * i + 1];
    PrepSplice(fill, seg.file_fd, offset + queued, pipe_.write_fd,
               kSpliceNoOffset, static_cast<unsigned>(want), kSpliceFlags);
    SetUserData(fill, UringUserData(key_, UringOp::kFill, i));
    queued += want;
    // SPLICE_F_MORE (MSG_MORE) only while body bytes follow: on the last
    // bytes it would hold a partial frame back until a send that never comes.
    PrepSplice(drain, pipe_.read_fd, kSpliceNoOffset, sock_fd_, kSpliceNoOffset,
               static_cast<unsigned>(want),
               kSpliceFlags | (MoreAfter(queued) ? SPLICE_F_MORE : 0));
    SetUserData(drain, UringUserData(key_, UringOp::kDrain, i));
    SetLink(fill);
    if (skips) SetSkipSuccess(fill);
    if (i + 1 < pairs) {
      SetLink(drain);
      SetSkipSuccess(drain);
    }
  }
  chain_pairs_ = pairs;
  chain_done_ = 0;
  chain_live_ = true;
  chain_skips_ = skips;
  chain_broken_ = false;
  inflight_ += skips ? 1 : 2 * pairs;
  return true;
}

bool UringBody::QueueDrain(Ring* ring) {
  unsigned n = need_poll_ ? 2 : 1;
  io_uring_sqe* sqe[2];
  if (!ring->GetSqes(n, sqe)) return false;
  io_uring_sqe* drain = sqe[0];
  if (need_poll_) {
    // io_uring does not arm its own poll for splice (-EAGAIN is final,
    // ring.h point 2): the wait is ours to queue.
    PrepPollAdd(sqe[0], sock_fd_, POLLOUT);
    SetUserData(sqe[0], UringUserData(key_, UringOp::kPoll));
    SetLink(sqe[0]);
    ops_ |= Bit(UringOp::kPoll);
    drain = sqe[1];
  }
  PrepSplice(drain, pipe_.read_fd, kSpliceNoOffset, sock_fd_, kSpliceNoOffset,
             static_cast<unsigned>(pipe_bytes_),
             kSpliceFlags | (MoreAfter(pipe_bytes_) ? SPLICE_F_MORE : 0));
  SetUserData(drain, UringUserData(key_, UringOp::kDrain));
  drain_asked_ = pipe_bytes_;
  ops_ |= Bit(UringOp::kDrain);
  inflight_ += n;
  need_poll_ = false;
  return true;
}

bool UringBody::QueuePoll(Ring* ring) {
  io_uring_sqe* sqe = ring->GetSqe();
  if (sqe == nullptr) return false;
  PrepPollAdd(sqe, sock_fd_, POLLOUT);
  SetUserData(sqe, UringUserData(key_, UringOp::kPoll));
  ops_ |= Bit(UringOp::kPoll);
  inflight_ += 1;
  need_poll_ = false;
  return true;
}

bool UringBody::QueueCancels(Ring* ring) {
  if (!cancel_pending_) return true;
  // The chunk chain's ops not yet heard from (one of them is running; the
  // ones after it go with it), or the single ops in flight.
  uint64_t targets[2 * kChainPairs + 1];
  unsigned n = 0;
  if (chain_live_) {
    for (unsigned i = chain_done_; i < 2 * chain_pairs_; ++i) {
      targets[n++] = UringUserData(
          key_, i % 2 == 0 ? UringOp::kFill : UringOp::kDrain, i / 2);
    }
  }
  for (UringOp op : {UringOp::kFill, UringOp::kDrain, UringOp::kPoll}) {
    if ((ops_ & Bit(op)) != 0) targets[n++] = UringUserData(key_, op);
  }
  io_uring_sqe* sqe[2 * kChainPairs + 1];
  if (!ring->GetSqes(n, sqe)) return false;
  for (unsigned i = 0; i < n; ++i) {
    PrepAsyncCancel(sqe[i], targets[i]);
    SetUserData(sqe[i], UringUserData(key_, UringOp::kCancel));
  }
  inflight_ += n;
  cancel_pending_ = false;
  return true;
}

void UringBody::ReleasePipe() {
  if (!has_pipe_) return;
  // Release re-checks emptiness with FIONREAD before pooling.
  pipes_->Return(pipe_, pipe_bytes_ == 0);
  has_pipe_ = false;
  pipe_ = Pipe();
  pipe_bytes_ = 0;
}

}  // namespace core
}  // namespace sluice
