// Bodies over the ring: aligned and unaligned ranges over TCP and AF_UNIX,
// concurrent transfers, short fills, a peer that closes or resets.
#include "uring/tests.h"

namespace uring_test {

void TestTransferTcpAligned() {
  RunTransfers({{true, 0, 8 << 20, 1 << 20, 400}});
}

void TestTransferUnixUnaligned() {
  // A Range body: unaligned start, ends before EOF. 1 MiB from an unaligned
  // offset spans 257 pages and a 1 MiB pipe holds 256: every fill is short.
  RunTransfers(
      {{false, 4097 + 12345, (8 << 20) - 4097 - 12345 - 777, 1 << 20, 400}});
}

void TestTransferConcurrent() {
  RunTransfers({
      {true, 0, 8 << 20, 256 * 1024, 300},
      {false, 1, (8 << 20) - 1, 1 << 20, 500},
      {true, 3, 3 << 20, 3 << 20, 200},  // chunk > pipe: fills come up short
      {false, 65536, 1 << 20, 64 * 1024, 0},
  });
}

void TestShortFillCancelsLink() {
  Ring* ring = nullptr;
  TempFile file;
  Pipe pipe;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  EXPECT(MakeTempFile(64 * 1024, &file));
  EXPECT(pipe.Open(1 << 20));
  if (ring == nullptr || file.fd < 0) return;
  io_uring_sqe* s[2];
  // 1000 bytes before EOF, 4096 asked: short -> the link is broken.
  MustSqes(ring, 2, s);
  PrepSplice(s[0], file.fd, 64 * 1024 - 1000, pipe.w, kSpliceNoOffset, 4096,
             kSpliceFlags);
  SetUserData(s[0], 1);
  SetLink(s[0]);
  PrepNop(s[1]);
  SetUserData(s[1], 2);
  EXPECT_EQ(ring->Submit(), 2);
  std::vector<Cqe> got = Reap(ring, 2, 1000);
  EXPECT_EQ(ResOf(got, 1), 1000);
  EXPECT_EQ(ResOf(got, 2), -ECANCELED);
  EXPECT_EQ(pipe.Discard(), 1000);
  // At EOF: 0 bytes, which is also "short".
  MustSqes(ring, 2, s);
  PrepSplice(s[0], file.fd, 64 * 1024, pipe.w, kSpliceNoOffset, 4096,
             kSpliceFlags);
  SetUserData(s[0], 3);
  SetLink(s[0]);
  PrepNop(s[1]);
  SetUserData(s[1], 4);
  EXPECT_EQ(ring->Submit(), 2);
  got = Reap(ring, 2, 1000);
  EXPECT_EQ(ResOf(got, 3), 0);
  EXPECT_EQ(ResOf(got, 4), -ECANCELED);
  // Full pipe + SPLICE_F_NONBLOCK: -EAGAIN, not a blocked worker.
  for (int i = 0; i < 16; ++i) {  // 16 x 64 KiB fills the 1 MiB pipe
    MustSqes(ring, 1, s);
    PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 64 * 1024,
               kSpliceFlags);
    SetUserData(s[0], 6);
    ring->Submit();
    EXPECT_EQ(ResOf(Reap(ring, 1, 1000), 6), 64 * 1024);
  }
  MustSqes(ring, 1, s);
  PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 4096, kSpliceFlags);
  SetUserData(s[0], 7);
  ring->Submit();
  got = Reap(ring, 1, 1000);
  EXPECT_EQ(ResOf(got, 7), -EAGAIN);
  // The pipe holds its 1 MiB capacity, in 64 KiB page-aligned pieces.
  EXPECT_EQ(pipe.Discard(), 1 << 20);
  // An unaligned 1 MiB fill of an empty 1 MiB pipe: 1 byte short.
  TempFile big;
  EXPECT(MakeTempFile(2 << 20, &big));
  MustSqes(ring, 2, s);
  PrepSplice(s[0], big.fd, 1, pipe.w, kSpliceNoOffset, 1 << 20, kSpliceFlags);
  SetUserData(s[0], 8);
  SetLink(s[0]);
  PrepNop(s[1]);
  SetUserData(s[1], 9);
  ring->Submit();
  got = Reap(ring, 2, 1000);
  NOTE("1 MiB fill at file offset 1 into an empty 1 MiB pipe -> %d, linked "
       "op -> %s",
       ResOf(got, 8), ErrName(ResOf(got, 9)));
  EXPECT_EQ(ResOf(got, 8), (1 << 20) - 1);
  EXPECT_EQ(ResOf(got, 9), -ECANCELED);
  pipe.Discard();
  // Sized to the pages the pipe can take (capacity - offset % 4096), the
  // same fill is exact and the link holds.
  MustSqes(ring, 2, s);
  PrepSplice(s[0], big.fd, 1, pipe.w, kSpliceNoOffset, (1 << 20) - 4095,
             kSpliceFlags);
  SetUserData(s[0], 10);
  SetLink(s[0]);
  PrepNop(s[1]);
  SetUserData(s[1], 11);
  ring->Submit();
  got = Reap(ring, 2, 1000);
  EXPECT_EQ(ResOf(got, 10), (1 << 20) - 4095);
  EXPECT_EQ(ResOf(got, 11), 0);
  EXPECT_EQ(pipe.Discard(), (1 << 20) - 4095);
  close(big.fd);
  pipe.Close();
  close(file.fd);
  delete ring;
}

// Peer gone: the socket splice fails with -EPIPE, the rest of the chain is
// -ECANCELED, and no SIGPIPE reaches the process (run in a child with the
// default SIGPIPE disposition, which would kill it).
int BrokenChainChild() {
  signal(SIGPIPE, SIG_DFL);
  Ring* ring = nullptr;
  TempFile file;
  Pipe pipe;
  int tx = -1;
  int rx = -1;
  if (Ring::Create(8, &ring) != 0 || !MakeTempFile(1 << 20, &file) ||
      !pipe.Open(1 << 20) || !UnixPair(&tx, &rx)) {
    return 10;
  }
  close(rx);
  io_uring_sqe* s[3];
  MustSqes(ring, 3, s);
  PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 65536, kSpliceFlags);
  SetUserData(s[0], 1);
  SetLink(s[0]);
  PrepSplice(s[1], pipe.r, kSpliceNoOffset, tx, kSpliceNoOffset, 65536,
             kSpliceFlags);
  SetUserData(s[1], 2);
  SetLink(s[1]);
  PrepNop(s[2]);
  SetUserData(s[2], 3);
  ring->Submit();
  std::vector<Cqe> got = Reap(ring, 3, 2000);
  std::printf("  · peer closed (unix): fill=%d drain=%s next=%s\n",
              ResOf(got, 1), ErrName(ResOf(got, 2)), ErrName(ResOf(got, 3)));
  int bad = 0;
  if (ResOf(got, 1) != 65536) bad |= 1;
  if (ResOf(got, 2) != -EPIPE) bad |= 2;
  if (ResOf(got, 3) != -ECANCELED) bad |= 4;
  delete ring;
  return bad;
}

void TestBrokenChainPeerClosed() {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(BrokenChainChild());
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT(WIFEXITED(status));
  if (WIFSIGNALED(status)) {
    NOTE("child killed by signal %d", WTERMSIG(status));
  }
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

void TestTcpReset() {
  Ring* ring = nullptr;
  TempFile file;
  Pipe pipe;
  int tx = -1;
  int rx = -1;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  EXPECT(MakeTempFile(1 << 20, &file));
  EXPECT(pipe.Open(1 << 20));
  EXPECT(TcpPair(&tx, &rx));
  if (ring == nullptr || tx < 0) return;
  linger lg = {1, 0};  // close() sends RST
  setsockopt(rx, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(rx);
  usleep(20000);
  int results[2][3];
  for (int round = 0; round < 2; ++round) {
    io_uring_sqe* s[3];
    MustSqes(ring, 3, s);
    PrepSplice(s[0], file.fd, 0, pipe.w, kSpliceNoOffset, 65536, kSpliceFlags);
    SetUserData(s[0], 1);
    SetLink(s[0]);
    PrepSplice(s[1], pipe.r, kSpliceNoOffset, tx, kSpliceNoOffset, 65536,
               kSpliceFlags);
    SetUserData(s[1], 2);
    SetLink(s[1]);
    PrepNop(s[2]);
    SetUserData(s[2], 3);
    ring->Submit();
    std::vector<Cqe> got = Reap(ring, 3, 2000);
    for (int i = 0; i < 3; ++i) results[round][i] = ResOf(got, i + 1);
    pipe.Discard();
  }
  NOTE("peer reset (tcp): 1st chain drain=%s next=%s; 2nd chain drain=%s",
       ErrName(results[0][1]), ErrName(results[0][2]), ErrName(results[1][1]));
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(results[round][0], 65536);
    EXPECT(results[round][1] == -ECONNRESET || results[round][1] == -EPIPE);
    EXPECT_EQ(results[round][2], -ECANCELED);
  }
  close(tx);
  pipe.Close();
  close(file.fd);
  delete ring;
}

}  // namespace uring_test
