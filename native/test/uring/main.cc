// Standalone test of the io_uring core (native/src/core/uring) under the
// usage pattern of the io_uring engine: linked SPLICE file->pipe->socket,
// POLL_ADD(POLLOUT) when the socket is full, ASYNC_CANCEL on abort, one
// eventfd watched with poll(2). The tests live by subject in ring_test.cc,
// transfer_test.cc and lifetime_test.cc; support.h is their harness.
//
//   g++ -std=c++17 -Wall -Wextra -Werror -O2 -Inative/src -Inative/test
//     native/test/uring/*.cc native/src/core/uring/ring.cc
//     native/src/core/force_errno.cc -o /tmp/uring_core_test
//   /tmp/uring_core_test
//
// Never hangs: alarm(30) kills it, and every wait is a poll(2) with a
// timeout. Prints "N passed, M failed" and exits non-zero on any failure.
// Lines starting with "  ·" are observations about this kernel, not checks.
#include "uring/tests.h"

using namespace uring_test;  // NOLINT(build/namespaces): the test list below

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--force-child") == 0) {
    return ForceChild(std::atoi(argv[2]), argv[3]);
  }
  signal(SIGALRM, [](int) {
    const char msg[] = "TIMEOUT: uring_core_test took more than 30 s\n";
    ssize_t n = write(2, msg, sizeof(msg) - 1);
    (void)n;
    _exit(3);
  });
  alarm(30);
  signal(SIGPIPE, SIG_IGN);  // as Node does

  utsname u;
  uname(&u);
  std::printf("uring_core_test on Linux %s\n", u.release);
  std::string why;
  int rc = ProbeUring(&why);
  if (rc != 0) {
    std::printf("io_uring unavailable: %s: %s\n", why.c_str(), ErrName(rc));
    Run("forced-errno parser", TestForcedErrnoParser);
    Run("SLUICE_FORCE_ERRNO hook (child processes)", TestForceErrnoHook);
    std::printf("%d passed, %d failed (io_uring tests skipped)\n", g_passed,
                g_failed);
    return g_failed == 0 ? 0 : 1;
  }

  Run("forced-errno parser", TestForcedErrnoParser);
  Run("Create, Probe, ProbeUring", TestCreateAndProbe);
  Run("SQ accounting, chain published by one Submit", TestSqAccounting);
  Run("eventfd wakeups and reentrant drain", TestEventfd);
  Run("CQ overflow is flushed, nothing dropped", TestCqOverflow);
  Run("8 MiB over TCP, slow reader, EAGAIN -> POLL_ADD",
      TestTransferTcpAligned);
  Run("unaligned range over AF_UNIX, short fills", TestTransferUnixUnaligned);
  Run("4 concurrent transfers on one ring", TestTransferConcurrent);
  Run("short fill cancels the linked op", TestShortFillCancelsLink);
  Run("peer closed: -EPIPE then -ECANCELED, no SIGPIPE",
      TestBrokenChainPeerClosed);
  Run("peer reset over TCP", TestTcpReset);
  Run("ASYNC_CANCEL of a pending POLL_ADD", TestCancelPendingPoll);
  Run("in-flight request pins the socket until cancelled",
      TestPendingOpPinsSocket);
  Run("blocking splices park io-wq workers", TestBlockingSpliceParksWorker);
  Run("no fd leak: 1000 create/destroy", TestNoFdLeakCreateDestroy);
  Run("no fd leak: 1000 cancelled chunks", TestNoFdLeakCancelledChunks);
  Run("destroy with a request in flight", TestDestroyWithInflight);
  Run("SLUICE_FORCE_ERRNO hook (child processes)", TestForceErrnoHook);

  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
