// The io_uring core tests, one function each, run in order by main.cc.
#ifndef NATIVE_TEST_URING_TESTS_H_
#define NATIVE_TEST_URING_TESTS_H_

#include "uring/support.h"

namespace uring_test {

// ring_test.cc
void TestForcedErrnoParser();
void TestCreateAndProbe();
void TestSqAccounting();
void TestEventfd();
void TestCqOverflow();
void TestForceErrnoHook();
int ForceChild(int expect_rc, const char* expect_why);

// transfer_test.cc
void TestTransferTcpAligned();
void TestTransferUnixUnaligned();
void TestTransferConcurrent();
void TestShortFillCancelsLink();
void TestBrokenChainPeerClosed();
void TestTcpReset();

// lifetime_test.cc
void TestCancelPendingPoll();
void TestPendingOpPinsSocket();
void TestBlockingSpliceParksWorker();
void TestNoFdLeakCreateDestroy();
void TestNoFdLeakCancelledChunks();
void TestDestroyWithInflight();

}  // namespace uring_test

#endif  // NATIVE_TEST_URING_TESTS_H_
