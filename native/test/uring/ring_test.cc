// The ring itself: creation and probing, SQ accounting, the eventfd, CQ
// overflow, and SLUICE_FORCE_ERRNO (parser and hook).
#include "uring/tests.h"

namespace uring_test {

void TestForcedErrnoParser() {
  EXPECT_EQ(ForcedErrnoFromSpec("io_uring_setup:EPERM", "io_uring_setup"),
            -EPERM);
  EXPECT_EQ(ForcedErrnoFromSpec("io_uring_setup:EPERM", "io_uring_register"),
            0);
  EXPECT_EQ(ForcedErrnoFromSpec(nullptr, "io_uring_setup"), 0);
  EXPECT_EQ(ForcedErrnoFromSpec("", "io_uring_setup"), 0);
  const char* multi =
      " io_uring_register : ENOSYS ,io_uring_setup:ENOMEM,x:EINVAL";
  EXPECT_EQ(ForcedErrnoFromSpec(multi, "io_uring_register"), -ENOSYS);
  EXPECT_EQ(ForcedErrnoFromSpec(multi, "io_uring_setup"), -ENOMEM);
  EXPECT_EQ(ForcedErrnoFromSpec(multi, "x"), -EINVAL);
  EXPECT_EQ(ForcedErrnoFromSpec(multi, "io_uring"), 0);  // no prefix match
  EXPECT_EQ(ForcedErrnoFromSpec("io_uring_setup:EBOGUS", "io_uring_setup"), 0);
  EXPECT_EQ(ForcedErrnoFromSpec("io_uring_setup", "io_uring_setup"), 0);
  EXPECT_EQ(ForcedErrnoFromSpec("io_uring_setup:", "io_uring_setup"), 0);
  EXPECT_EQ(ForcedErrnoFromSpec(":EPERM", ""), 0);
  EXPECT_EQ(ForcedErrnoFromSpec("io_uring_setup:1", "io_uring_setup"), -1);
  EXPECT_EQ(ForcedErrnoFromSpec("a:EPERM,a:EINVAL", "a"), -EPERM);  // first
  EXPECT_EQ(ForcedErrnoFromSpec(",,a:EOPNOTSUPP,", "a"), -EOPNOTSUPP);
}

void TestCreateAndProbe() {
  Ring* ring = nullptr;
  const char* what = "unset";
  int rc = Ring::Create(32, &ring, &what);
  EXPECT_EQ(rc, 0);
  if (ring == nullptr) return;
  EXPECT(what == nullptr);
  EXPECT_EQ(ring->sq_entries(), 32);
  EXPECT(ring->cq_entries() >= 64);
  EXPECT_EQ(ring->SqSpaceLeft(), 32);
  EXPECT_EQ(ring->Probe(), 0);
  EXPECT((fcntl(ring->ring_fd(), F_GETFD) & FD_CLOEXEC) != 0);
  EXPECT((fcntl(ring->eventfd(), F_GETFD) & FD_CLOEXEC) != 0);
  EXPECT((fcntl(ring->eventfd(), F_GETFL) & O_NONBLOCK) != 0);
  EXPECT((ring->features() & IORING_FEAT_NODROP) != 0);
  NOTE("features 0x%x (SINGLE_MMAP=%d NODROP=%d)", ring->features(),
       (ring->features() & IORING_FEAT_SINGLE_MMAP) != 0,
       (ring->features() & IORING_FEAT_NODROP) != 0);
  delete ring;

  // Odd sizes are rounded up to a power of two; 0 is refused.
  EXPECT_EQ(Ring::Create(5, &ring), 0);
  if (ring != nullptr) {
    EXPECT_EQ(ring->sq_entries(), 8);
    delete ring;
  }
  EXPECT_EQ(Ring::Create(0, &ring), -EINVAL);
  EXPECT(ring == nullptr);

  std::string why = "unset";
  EXPECT_EQ(ProbeUring(&why), 0);
  EXPECT(why.empty());
  EXPECT_EQ(ProbeUring(nullptr), 0);
}

void TestSqAccounting() {
  Ring* ring = nullptr;
  EXPECT_EQ(Ring::Create(4, &ring), 0);
  if (ring == nullptr) return;
  io_uring_sqe* s[5];
  EXPECT(!ring->GetSqes(5, s));  // all or nothing
  EXPECT_EQ(ring->SqSpaceLeft(), 4);
  EXPECT(ring->GetSqes(3, s));
  EXPECT_EQ(ring->SqSpaceLeft(), 1);
  EXPECT_EQ(ring->SqPending(), 3);
  EXPECT(!ring->GetSqes(2, s + 3));
  EXPECT_EQ(ring->SqSpaceLeft(), 1);
  for (int i = 0; i < 3; ++i) {
    PrepNop(s[i]);
    SetUserData(s[i], 100 + i);
    if (i < 2) SetLink(s[i]);
  }
  s[3] = ring->GetSqe();
  EXPECT(s[3] != nullptr);
  if (s[3] == nullptr) return;
  EXPECT(ring->GetSqe() == nullptr);  // full
  PrepNop(s[3]);
  SetUserData(s[3], 103);
  // Nothing reaches the kernel before Submit: no CQE may appear.
  std::vector<Cqe> none = Reap(ring, 1, 30);
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(ring->Submit(), 4);
  EXPECT_EQ(ring->SqPending(), 0);
  EXPECT_EQ(ring->SqSpaceLeft(), 4);
  EXPECT_EQ(ring->Submit(), 0);  // nothing pending
  std::vector<Cqe> got = Reap(ring, 4, 1000);
  EXPECT_EQ(got.size(), 4);
  // A linked chain completes in order; an unlinked SQE submitted with it
  // may complete anywhere in between (seen here: 100, 103, 101, 102).
  std::vector<uint64_t> chain;
  for (const Cqe& c : got) {
    EXPECT_EQ(c.res, 0);
    if (c.ud != 103) chain.push_back(c.ud);
  }
  EXPECT(Find(got, 103) != nullptr);
  EXPECT(chain == (std::vector<uint64_t>{100, 101, 102}));
  // Wrap the ring a few times.
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 4; ++i) {
      io_uring_sqe* e = MustSqe(ring);
      PrepNop(e);
      SetUserData(e, round * 4 + i);
    }
    EXPECT_EQ(ring->Submit(), 4);
    EXPECT_EQ(Reap(ring, 4, 1000).size(), 4);
  }
  delete ring;
}

void TestEventfd() {
  Ring* ring = nullptr;
  EXPECT_EQ(Ring::Create(8, &ring), 0);
  if (ring == nullptr) return;
  pollfd p = {ring->eventfd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);  // quiet before anything completes
  io_uring_sqe* e = MustSqe(ring);
  PrepNop(e);
  SetUserData(e, 7);
  EXPECT_EQ(ring->Submit(), 1);
  EXPECT_EQ(poll(&p, 1, 1000), 1);  // the CQE signalled the eventfd
  EXPECT_EQ(ring->ReadEventfd(), 0);
  EXPECT_EQ(ring->ReadEventfd(), 0);  // already clear: EAGAIN is fine
  EXPECT_EQ(poll(&p, 1, 0), 0);
  unsigned seen = 0;
  uint64_t ud = 0;
  unsigned drained =
      ring->DrainCompletions([&](uint64_t u, int32_t res, uint32_t) {
        ud = u;
        EXPECT_EQ(res, 0);
        ++seen;
      });
  EXPECT_EQ(drained, 1);
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(ud, 7);
  EXPECT_EQ(ring->DrainCompletions([](uint64_t, int32_t, uint32_t) {}), 0);

  // The callback may submit and drain again (slot returned before fn runs):
  // a NOP submitted from the callback completes inline and is picked up by
  // the same DrainCompletions call.
  e = MustSqe(ring);
  PrepNop(e);
  SetUserData(e, 1);
  EXPECT_EQ(ring->Submit(), 1);
  EXPECT_EQ(poll(&p, 1, 1000), 1);
  std::vector<uint64_t> order;
  ring->ReadEventfd();
  ring->DrainCompletions([&](uint64_t u, int32_t, uint32_t) {
    order.push_back(u);
    if (u == 1) {
      io_uring_sqe* n = MustSqe(ring);
      PrepNop(n);
      SetUserData(n, 2);
      ring->Submit();
    }
  });
  for (const Cqe& c : Reap(ring, order.size() >= 2 ? 0 : 1, 200)) {
    order.push_back(c.ud);
  }
  EXPECT_EQ(order.size(), 2);
  if (order.size() == 2) {
    EXPECT_EQ(order[0], 1);
    EXPECT_EQ(order[1], 2);
  }
  delete ring;
}

void TestCqOverflow() {
  Ring* ring = nullptr;
  EXPECT_EQ(Ring::Create(4, &ring), 0);
  if (ring == nullptr) return;
  EXPECT_EQ(ring->cq_entries(), 8);
  int busy = 0;
  for (int round = 0; round < 6; ++round) {  // 24 CQEs for an 8-slot CQ
    for (int i = 0; i < 4; ++i) {
      io_uring_sqe* e = MustSqe(ring);
      PrepNop(e);
      SetUserData(e, round * 4 + i);
    }
    int rc = ring->Submit();
    if (rc < 0) ++busy;
    EXPECT(rc == 4 || rc == -EBUSY || rc == -EAGAIN);
  }
  EXPECT(ring->CqOverflowPending());
  NOTE("24 NOPs into an 8-entry CQ without reaping: Submit failed %d times, "
       "IORING_SQ_CQ_OVERFLOW=%d",
       busy, ring->CqOverflowPending());
  std::vector<uint64_t> seen;
  ring->ReadEventfd();
  unsigned n = ring->DrainCompletions(
      [&](uint64_t ud, int32_t, uint32_t) { seen.push_back(ud); });
  EXPECT_EQ(n, 24 - busy * 4);
  EXPECT(!ring->CqOverflowPending());
  EXPECT_EQ(ring->CqDropped(), 0);
  bool in_order = true;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] != i) in_order = false;
  }
  EXPECT(in_order);
  delete ring;
}

int ForceChild(int expect_rc, const char* expect_why) {
  int bad = 0;
  int before = CountFds();
  Ring* ring = nullptr;
  const char* what = nullptr;
  int rc = Ring::Create(8, &ring, &what);
  if (rc != expect_rc) bad |= 1;
  if (expect_rc != 0 && (ring != nullptr || what == nullptr ||
                         std::strcmp(what, expect_why) != 0)) {
    bad |= 2;
  }
  delete ring;
  std::string why;
  int prc = ProbeUring(&why);
  if (prc != expect_rc) bad |= 4;
  if (expect_rc != 0 && why != expect_why) bad |= 8;
  if (expect_rc == 0 && !why.empty()) bad |= 8;
  if (CountFds() != before) bad |= 16;  // the unwind closed everything
  if (CountRingMaps() != 0) bad |= 32;  // ... and unmapped every ring
  std::printf("  · SLUICE_FORCE_ERRNO=\"%s\": Create=%s ProbeUring=%s "
              "why=%s\n",
              std::getenv("SLUICE_FORCE_ERRNO"), ErrName(rc), ErrName(prc),
              why.empty() ? "-" : why.c_str());
  return bad;
}

void TestForceErrnoHook() {
  struct Case {
    const char* spec;
    int rc;
    const char* why;
  };
  const Case cases[] = {
      {"io_uring_setup:EPERM", -EPERM, "io_uring_setup"},
      {"io_uring_setup:ENOSYS", -ENOSYS, "io_uring_setup"},
      {"io_uring_setup:EINVAL", -EINVAL, "io_uring_setup"},
      {"bogus:EPERM, io_uring_setup : ENOMEM", -ENOMEM, "io_uring_setup"},
      {"io_uring_register:EPERM", -EPERM, "io_uring_register"},
      {"io_uring_register:ENOSYS", -ENOSYS, "io_uring_register"},
      {"io_uring_register:EINVAL", -EINVAL, "io_uring_register"},
      {"io_uring_register:ENOMEM", -ENOMEM, "io_uring_register"},
      {"io_uring_setup:EWHATEVER,io_uring_register", 0, "-"},
  };
  for (const Case& c : cases) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      setenv("SLUICE_FORCE_ERRNO", c.spec, 1);
      std::string rc = std::to_string(c.rc);
      execl("/proc/self/exe", "uring_core_test", "--force-child", rc.c_str(),
            c.why, static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0) {
      std::printf("  case \"%s\": child status %d\n", c.spec, code);
    }
    EXPECT_EQ(code, 0);
  }
}

}  // namespace uring_test
