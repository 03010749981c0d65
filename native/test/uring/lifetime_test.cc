// What a transfer holds and gives back: cancelling a pending poll, a
// request pinning its socket, blocking splices parking io-wq workers, no
// descriptor leaks, teardown with a request in flight.
#include "uring/tests.h"

namespace uring_test {

void TestCancelPendingPoll() {
  Ring* ring = nullptr;
  TempFile file;
  Pipe pipe;
  int tx = -1;
  int rx = -1;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  EXPECT(MakeTempFile(1 << 20, &file));
  EXPECT(pipe.Open(1 << 20));
  EXPECT(UnixPair(&tx, &rx));
  if (ring == nullptr || tx < 0) return;
  size_t filled = FillSocket(tx);  // the peer stopped reading
  EXPECT(filled > 0);
  // The chunk's drain finds the socket full...
  io_uring_sqe* s[2];
  MustSqes(ring, 2, s);
  PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 65536, kSpliceFlags);
  SetUserData(s[0], 1);
  SetLink(s[0]);
  PrepSplice(s[1], pipe.r, kSpliceNoOffset, tx, kSpliceNoOffset, 65536,
             kSpliceFlags);
  SetUserData(s[1], 2);
  ring->Submit();
  std::vector<Cqe> got = Reap(ring, 2, 1000);
  EXPECT_EQ(ResOf(got, 1), 65536);
  EXPECT_EQ(ResOf(got, 2), -EAGAIN);
  // ...so it waits with POLL_ADD(POLLOUT) linked to the retry.
  MustSqes(ring, 2, s);
  PrepPollAdd(s[0], tx, POLLOUT);
  SetUserData(s[0], 3);
  SetLink(s[0]);
  PrepSplice(s[1], pipe.r, kSpliceNoOffset, tx, kSpliceNoOffset, 65536,
             kSpliceFlags);
  SetUserData(s[1], 4);
  EXPECT_EQ(ring->Submit(), 2);
  // Idle while the peer is stalled: no CQE, no eventfd wakeup, no CPU.
  double cpu0 = CpuSeconds();
  pollfd p = {ring->eventfd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 300), 0);
  double cpu = CpuSeconds() - cpu0;
  EXPECT(cpu < 0.05);
  NOTE("300 ms with POLL_ADD pending on a stalled peer: %.1f ms CPU, "
       "io-wq workers %d",
       cpu * 1000, CountIoWorkers());
  // Abort: cancel the poll; the linked retry is cancelled with it.
  io_uring_sqe* c = MustSqe(ring);
  PrepAsyncCancel(c, 3);
  SetUserData(c, 5);
  EXPECT_EQ(ring->Submit(), 1);
  got = Reap(ring, 3, 1000);
  EXPECT_EQ(got.size(), 3);
  EXPECT_EQ(ResOf(got, 3), -ECANCELED);
  EXPECT_EQ(ResOf(got, 4), -ECANCELED);
  int cancel_res = ResOf(got, 5);
  EXPECT(cancel_res == 0 || cancel_res == -EALREADY || cancel_res == -ENOENT);
  NOTE("cancel pending poll: poll=%s linked splice=%s cancel=%d",
       ErrName(ResOf(got, 3)), ErrName(ResOf(got, 4)), cancel_res);
  // Cancelling again finds nothing.
  c = MustSqe(ring);
  PrepAsyncCancel(c, 3);
  SetUserData(c, 6);
  ring->Submit();
  got = Reap(ring, 1, 1000);
  EXPECT_EQ(ResOf(got, 6), -ENOENT);
  // The aborted chunk's bytes are still in the pipe: discard before reuse.
  EXPECT_EQ(pipe.Discard(), 65536);
  close(tx);
  close(rx);
  pipe.Close();
  close(file.fd);
  delete ring;
}

// An in-flight request holds a reference to its file: closing every fd of
// a socket does not close the connection while a POLL_ADD is pending on it.
// Only the cancel (or ring teardown) lets it go.
void TestPendingOpPinsSocket() {
  Ring* ring = nullptr;
  int tx = -1;
  int rx = -1;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  EXPECT(UnixPair(&tx, &rx));
  if (ring == nullptr || tx < 0) return;
  FillSocket(tx);
  int dup_fd = fcntl(tx, F_DUPFD_CLOEXEC, 0);
  io_uring_sqe* e = MustSqe(ring);
  PrepPollAdd(e, dup_fd, POLLOUT);
  SetUserData(e, 1);
  ring->Submit();
  close(dup_fd);
  close(tx);  // every fd of the sending socket is gone
  pollfd p = {rx, POLLRDHUP, 0};
  poll(&p, 1, 200);
  bool hup_before = (p.revents & (POLLRDHUP | POLLHUP)) != 0;
  EXPECT(!hup_before);
  std::vector<Cqe> got = Reap(ring, 1, 100);
  EXPECT_EQ(got.size(), 0);  // closing the fd did not complete the poll
  e = MustSqe(ring);
  PrepAsyncCancel(e, 1);
  SetUserData(e, 2);
  ring->Submit();
  got = Reap(ring, 2, 1000);
  EXPECT_EQ(ResOf(got, 1), -ECANCELED);
  EXPECT_EQ(ResOf(got, 2), 0);
  p.revents = 0;
  poll(&p, 1, 1000);
  bool hup_after = (p.revents & (POLLRDHUP | POLLHUP)) != 0;
  EXPECT(hup_after);
  NOTE("all fds closed with POLL_ADD in flight: peer saw hangup before "
       "cancel=%d, after cancel=%d",
       hup_before, hup_after);
  close(rx);
  delete ring;
}

// What NOT to do: a BLOCKING socket (or a fill into a full pipe without
// SPLICE_F_NONBLOCK) parks an io-wq worker thread inside splice. Cancel can
// only signal the worker: cancel -> -EALREADY, and the splice completes
// with -ERESTARTSYS (512, a kernel-internal errno) on this kernel.
void TestBlockingSpliceParksWorker() {
  Ring* ring = nullptr;
  TempFile file;
  Pipe pipe;
  int tx = -1;
  int rx = -1;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  EXPECT(MakeTempFile(1 << 20, &file));
  EXPECT(pipe.Open(1 << 20));
  EXPECT(UnixPair(&tx, &rx));
  if (ring == nullptr || tx < 0) return;
  FillSocket(tx);
  SetNonblock(tx, false);  // SPLICE_F_NONBLOCK alone does not help
  io_uring_sqe* s[2];
  MustSqes(ring, 2, s);
  PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 65536, kSpliceFlags);
  SetUserData(s[0], 1);
  SetLink(s[0]);
  PrepSplice(s[1], pipe.r, kSpliceNoOffset, tx, kSpliceNoOffset, 65536,
             kSpliceFlags);
  SetUserData(s[1], 2);
  ring->Submit();
  std::vector<Cqe> got = Reap(ring, 2, 300);
  EXPECT_EQ(ResOf(got, 1), 65536);
  bool parked = Find(got, 2) == nullptr;
  int workers = CountIoWorkers();
  EXPECT(parked);
  io_uring_sqe* c = MustSqe(ring);
  PrepAsyncCancel(c, 2);
  SetUserData(c, 3);
  ring->Submit();
  std::vector<Cqe> more = Reap(ring, 2, 2000);
  got.insert(got.end(), more.begin(), more.end());
  if (Find(got, 2) == nullptr) {  // unblock it the hard way, then fail
    g_ok = false;
    std::printf("  FAIL cancel did not end the blocked splice\n");
    SetNonblock(rx, true);
    static char buf[1 << 16];
    while (read(rx, buf, sizeof(buf)) > 0) {
    }
    more = Reap(ring, 1, 2000);
    got.insert(got.end(), more.begin(), more.end());
  }
  int splice_res = ResOf(got, 2);
  int cancel_res = ResOf(got, 3);
  NOTE("blocking socket + SPLICE_F_NONBLOCK: parked in io-wq=%d (workers "
       "%d); cancel=%s, splice=%s",
       parked, workers, ErrName(cancel_res), ErrName(splice_res));
  EXPECT(cancel_res == -EALREADY || cancel_res == 0);
  EXPECT(splice_res == -512 || splice_res == -EINTR ||
         splice_res == -ECANCELED);
  pipe.Discard();

  // The same with a fill into a full pipe without SPLICE_F_NONBLOCK.
  Pipe small;
  EXPECT(small.Open(4096));
  MustSqes(ring, 1, s);
  PrepSplice(s[0], file.fd, 0, small.w, kSpliceNoOffset, 4096, SPLICE_F_MOVE);
  SetUserData(s[0], 4);
  ring->Submit();
  EXPECT_EQ(ResOf(Reap(ring, 1, 1000), 4), 4096);
  MustSqes(ring, 1, s);
  PrepSplice(s[0], file.fd, 0, small.w, kSpliceNoOffset, 4096, SPLICE_F_MOVE);
  SetUserData(s[0], 5);
  ring->Submit();
  got = Reap(ring, 1, 300);
  EXPECT(got.empty());
  c = MustSqe(ring);
  PrepAsyncCancel(c, 5);
  SetUserData(c, 6);
  ring->Submit();
  more = Reap(ring, 2, 2000);
  got.insert(got.end(), more.begin(), more.end());
  if (Find(got, 5) == nullptr) {
    g_ok = false;
    std::printf("  FAIL cancel did not end the blocked fill\n");
    small.Discard();
    more = Reap(ring, 1, 2000);
    got.insert(got.end(), more.begin(), more.end());
  }
  NOTE("blocking fill into a full pipe: cancel=%s, splice=%s",
       ErrName(ResOf(got, 6)), ErrName(ResOf(got, 5)));
  EXPECT(ResOf(got, 5) == -512 || ResOf(got, 5) == -EINTR ||
         ResOf(got, 5) == -ECANCELED);
  small.Close();
  close(tx);
  close(rx);
  pipe.Close();
  close(file.fd);
  delete ring;
}

void TestNoFdLeakCreateDestroy() {
  int before = CountFds();
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    Ring* ring = nullptr;
    if (Ring::Create(16, &ring) != 0) {
      ++failures;
      continue;
    }
    delete ring;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(CountFds(), before);
}

void TestNoFdLeakCancelledChunks() {
  Ring* ring = nullptr;
  TempFile file;
  Pipe pipe;
  int tx = -1;
  int rx = -1;
  EXPECT_EQ(Ring::Create(16, &ring), 0);
  EXPECT(MakeTempFile(1 << 20, &file));
  EXPECT(pipe.Open(1 << 20));
  EXPECT(UnixPair(&tx, &rx));
  if (ring == nullptr || tx < 0) return;
  FillSocket(tx);
  int before = CountFds();
  int bad = 0;
  for (int i = 0; i < 1000; ++i) {
    // As the engine will: a private duplicate of the socket per transfer.
    int d = fcntl(tx, F_DUPFD_CLOEXEC, 0);
    uint64_t base = static_cast<uint64_t>(i) << 8;
    io_uring_sqe* s[3];
    MustSqes(ring, 3, s);
    PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 4096, kSpliceFlags);
    SetUserData(s[0], base | kFill);
    PrepPollAdd(s[1], d, POLLOUT);
    SetUserData(s[1], base | kPoll);
    SetLink(s[1]);
    PrepSplice(s[2], pipe.r, kSpliceNoOffset, d, kSpliceNoOffset, 4096,
               kSpliceFlags);
    SetUserData(s[2], base | kDrain);
    ring->Submit();
    io_uring_sqe* c = MustSqe(ring);
    PrepAsyncCancel(c, base | kPoll);
    SetUserData(c, base | kCancel);
    ring->Submit();
    std::vector<Cqe> got = Reap(ring, 4, 2000);
    if (got.size() != 4 || ResOf(got, base | kFill) != 4096 ||
        ResOf(got, base | kPoll) != -ECANCELED ||
        ResOf(got, base | kDrain) != -ECANCELED ||
        ResOf(got, base | kCancel) != 0) {
      if (++bad < 3) {
        std::printf("  iteration %d: %zu CQEs fill=%d poll=%d drain=%d "
                    "cancel=%d\n",
                    i, got.size(), ResOf(got, base | kFill),
                    ResOf(got, base | kPoll), ResOf(got, base | kDrain),
                    ResOf(got, base | kCancel));
      }
    }
    close(d);
    if (pipe.Discard() != 4096) ++bad;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(CountFds(), before);
  EXPECT_EQ(Reap(ring, 1, 10).size(), 0);  // nothing stray
  close(tx);
  close(rx);
  pipe.Close();
  close(file.fd);
  delete ring;
}

// Destroying a ring with a request in flight neither hangs nor leaks, and
// releases the socket that request held.
void TestDestroyWithInflight() {
  int before = CountFds();
  Ring* ring = nullptr;
  int tx = -1;
  int rx = -1;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  EXPECT(UnixPair(&tx, &rx));
  if (ring == nullptr || tx < 0) return;
  FillSocket(tx);
  io_uring_sqe* e = MustSqe(ring);
  PrepPollAdd(e, tx, POLLOUT);
  SetUserData(e, 1);
  ring->Submit();
  close(tx);
  auto t0 = std::chrono::steady_clock::now();
  delete ring;
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
  pollfd p = {rx, POLLRDHUP, 0};
  poll(&p, 1, 2000);
  EXPECT((p.revents & (POLLRDHUP | POLLHUP)) != 0);
  NOTE("delete with a pending poll took %.2f ms; socket released", ms);
  close(rx);
  EXPECT_EQ(CountFds(), before);
}

// SLUICE_FORCE_ERRNO is read once per process, so each case runs in a fresh
// child: /proc/self/exe --force-child <expected rc> <expected syscall>.

}  // namespace uring_test
