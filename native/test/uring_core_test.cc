// Standalone test of the io_uring core (native/src/core/uring) under the
// usage pattern of the io_uring engine: linked SPLICE file->pipe->socket,
// POLL_ADD(POLLOUT) when the socket is full, ASYNC_CANCEL on abort, one
// eventfd watched with poll(2).
//
//   g++ -std=c++17 -Wall -Wextra -Werror -O2 -Inative/src
//     native/test/uring_core_test.cc native/src/core/uring/ring.cc
//     native/src/core/force_errno.cc -o /tmp/uring_core_test
//   /tmp/uring_core_test
//
// Never hangs: alarm(30) kills it, and every wait is a poll(2) with a
// timeout. Prints "N passed, M failed" and exits non-zero on any failure.
// Lines starting with "  ·" are observations about this kernel, not checks.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/force_errno.h"
#include "core/splice.h"
#include "core/uring/ring.h"
#include "core/uring/sqe.h"

using sluice::core::ForcedErrnoFromSpec;
using sluice::core::kSpliceFlags;
using sluice::core::kSpliceNoOffset;
using sluice::core::PrepAsyncCancel;
using sluice::core::PrepNop;
using sluice::core::PrepPollAdd;
using sluice::core::PrepSplice;
using sluice::core::ProbeUring;
using sluice::core::Ring;
using sluice::core::SetLink;
using sluice::core::SetUserData;

namespace {

// ---------------------------------------------------------------- harness

int g_passed = 0;
int g_failed = 0;
bool g_ok = true;

#define EXPECT(cond)                                                \
  do {                                                              \
    if (!(cond)) {                                                  \
      g_ok = false;                                                 \
      std::printf("  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                               \
  } while (0)

#define EXPECT_EQ(a, b)                                                    \
  do {                                                                     \
    int64_t va_ = static_cast<int64_t>(a);                                 \
    int64_t vb_ = static_cast<int64_t>(b);                                 \
    if (va_ != vb_) {                                                      \
      g_ok = false;                                                        \
      std::printf("  FAIL %s:%d: %s == %s (%" PRId64 " vs %" PRId64 ")\n", \
                  __FILE__, __LINE__, #a, #b, va_, vb_);                   \
    }                                                                      \
  } while (0)

#define NOTE(...)             \
  do {                        \
    std::printf("  · ");      \
    std::printf(__VA_ARGS__); \
    std::printf("\n");        \
  } while (0)

void Run(const char* name, void (*fn)()) {
  g_ok = true;
  std::printf("- %s\n", name);
  std::fflush(stdout);
  fn();
  if (g_ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("  => FAILED\n");
  }
  std::fflush(stdout);
}

const char* ErrName(int res) {
  struct Name {
    int res;
    const char* name;
  };
  static constexpr Name kNames[] = {
      {-EAGAIN, "EAGAIN"},     {-ECANCELED, "ECANCELED"},
      {-EPIPE, "EPIPE"},       {-ECONNRESET, "ECONNRESET"},
      {-EALREADY, "EALREADY"}, {-ENOENT, "ENOENT"},
      {-EINTR, "EINTR"},       {-512, "ERESTARTSYS(kernel-internal 512)"},
      {-EPERM, "EPERM"},       {-ENOSYS, "ENOSYS"},
      {-EINVAL, "EINVAL"},     {-ENOMEM, "ENOMEM"},
      {-EBUSY, "EBUSY"},
  };
  for (const Name& n : kNames) {
    if (n.res == res) return n.name;
  }
  return res >= 0 ? "ok" : "other";
}

// ---------------------------------------------------------------- helpers

int CountDir(const char* path) {
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

// Open fds, not counting the one opendir uses.
int CountFds() { return CountDir("/proc/self/fd") - 1; }

// Mappings of io_uring rings in this process ("anon_inode:[io_uring]").
int CountRingMaps() {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (f == nullptr) return -1;
  int n = 0;
  char line[512];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strstr(line, "[io_uring]") != nullptr) ++n;
  }
  std::fclose(f);
  return n;
}

// io-wq worker threads ("iou-wrk-<tid>") of this process.
int CountIoWorkers() {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string p = std::string("/proc/self/task/") + e->d_name + "/comm";
    FILE* f = std::fopen(p.c_str(), "r");
    if (f == nullptr) continue;
    char comm[64] = {};
    if (std::fgets(comm, sizeof(comm), f) != nullptr &&
        std::strncmp(comm, "iou-wrk", 7) == 0) {
      ++n;
    }
    std::fclose(f);
  }
  closedir(d);
  return n;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct TempFile {
  int fd = -1;
  std::vector<uint8_t> data;
};

// An unlinked temp file of `size` pseudo-random bytes (xorshift, fixed seed).
bool MakeTempFile(size_t size, TempFile* out) {
  char path[] = "/tmp/sluice-uring-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return false;
  unlink(path);
  out->data.resize(size);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out->data[i] = static_cast<uint8_t>(x >> 24);
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, out->data.data() + done, size - done);
    if (n <= 0) {
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  out->fd = fd;
  return true;
}

struct Pipe {
  int r = -1;
  int w = -1;
  int capacity = 0;
  bool Open(int size) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return false;
    r = p[0];
    w = p[1];
    capacity = fcntl(w, F_SETPIPE_SZ, size);
    return capacity > 0;
  }
  // Reads out and returns whatever is buffered (abort path: discard).
  size_t Discard() {
    static char buf[1 << 16];
    int fl = fcntl(r, F_GETFL);
    fcntl(r, F_SETFL, fl | O_NONBLOCK);
    size_t total = 0;
    for (;;) {
      ssize_t n = read(r, buf, sizeof(buf));
      if (n <= 0) break;
      total += static_cast<size_t>(n);
    }
    fcntl(r, F_SETFL, fl);
    return total;
  }
  void Close() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
    r = w = -1;
  }
};

void SetNonblock(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

// A connected pair: *sender (nonblocking, like a Node socket) and *receiver
// (blocking). Small buffers so a slow reader pushes back quickly.
bool UnixPair(int* sender, int* receiver) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return false;
  }
  int sz = 64 * 1024;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  SetNonblock(sv[0], true);
  *sender = sv[0];
  *receiver = sv[1];
  return true;
}

bool TcpPair(int* sender, int* receiver) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) return false;
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(lfd, 4) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(lfd);
    return false;
  }
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int sz = 64 * 1024;
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(c);
    close(lfd);
    return false;
  }
  int s = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  close(lfd);
  if (s < 0) {
    close(c);
    return false;
  }
  int rs = 64 * 1024;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rs, sizeof(rs));
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SetNonblock(c, true);
  *sender = c;
  *receiver = s;
  return true;
}

// Writes junk into a nonblocking socket until it would block.
size_t FillSocket(int fd) {
  static char junk[1 << 16];
  size_t total = 0;
  for (;;) {
    ssize_t n = send(fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  return total;
}

// GetSqe for tests: a full SQ here is a bug in the test itself.
io_uring_sqe* MustSqe(Ring* ring) {
  io_uring_sqe* sqe = ring->GetSqe();
  if (sqe == nullptr) {
    std::printf("  FATAL: SQ full\n");
    std::exit(2);
  }
  return sqe;
}

void MustSqes(Ring* ring, unsigned n, io_uring_sqe** out) {
  if (!ring->GetSqes(n, out)) {
    std::printf("  FATAL: SQ full\n");
    std::exit(2);
  }
}

struct Cqe {
  uint64_t ud;
  int32_t res;
  uint32_t flags;
};

// Waits on the eventfd (poll(2) with a timeout) until `want` CQEs arrived or
// `timeout_ms` passed. Per the ring checklist: read the eventfd, then drain.
std::vector<Cqe> Reap(Ring* ring, size_t want, int timeout_ms) {
  std::vector<Cqe> got;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    ring->ReadEventfd();
    ring->DrainCompletions([&](uint64_t ud, int32_t res, uint32_t fl) {
      got.push_back({ud, res, fl});
    });
    if (got.size() >= want) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p = {ring->eventfd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) == 0) {
      // One last drain: a CQE may have landed between drain and poll.
      continue;
    }
  }
  return got;
}

const Cqe* Find(const std::vector<Cqe>& v, uint64_t ud) {
  for (const Cqe& c : v) {
    if (c.ud == ud) return &c;
  }
  return nullptr;
}

int ResOf(const std::vector<Cqe>& v, uint64_t ud) {
  const Cqe* c = Find(v, ud);
  return c != nullptr ? c->res : 0x7fffffff;  // "no CQE"
}

constexpr int kNoCqe = 0x7fffffff;

// Slow reader on the receiving end; verifies every byte and the final EOF.
struct Reader {
  int fd = -1;
  const uint8_t* expect = nullptr;
  size_t len = 0;
  size_t step = 16 * 1024;
  int delay_us = 400;
  size_t got = 0;
  bool mismatch = false;
  size_t mismatch_at = 0;
  bool extra = false;
  int error = 0;
  std::thread thread;

  void Start() {
    thread = std::thread([this] {
      std::vector<uint8_t> buf(step);
      for (;;) {
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n == 0) break;
        if (n < 0) {
          if (errno == EINTR) continue;
          error = errno;
          break;
        }
        size_t un = static_cast<size_t>(n);
        if (got + un > len) {
          extra = true;
          un = len - got;
        }
        if (!mismatch && std::memcmp(buf.data(), expect + got, un) != 0) {
          mismatch = true;
          for (size_t i = 0; i < un; ++i) {
            if (buf[i] != expect[got + i]) {
              mismatch_at = got + i;
              break;
            }
          }
        }
        got += un;
        if (extra) break;
        if (delay_us > 0) usleep(delay_us);
      }
    });
  }
  void Join() {
    if (thread.joinable()) thread.join();
  }
};

// ------------------------------------------------ the engine's usage pattern

enum Tag : uint64_t { kFill = 1, kDrain = 2, kPoll = 3, kCancel = 4, kNop = 5 };

uint64_t Ud(uint64_t id, Tag tag) { return (id << 8) | tag; }

// One body transfer as the engine will run it: a chunk is a linked
// SPLICE(file->pipe) + SPLICE(pipe->socket); whatever stays in the pipe is
// pushed with SPLICE(pipe->socket), preceded by a linked POLL_ADD(POLLOUT)
// when the socket said it was full (-EAGAIN or a short splice).
struct Xfer {
  unsigned id = 0;
  int file_fd = -1;
  Pipe pipe;
  int sock = -1;
  uint64_t off = 0;
  uint64_t left = 0;
  unsigned chunk = 0;

  uint64_t in_pipe = 0;
  uint64_t sent = 0;
  unsigned fill_req = 0;
  int inflight = 0;
  bool need_poll = false;
  bool done = false;
  int error = 0;

  unsigned chains = 0;
  unsigned short_fills = 0;
  unsigned short_drains = 0;
  unsigned eagains = 0;
  unsigned canceled = 0;
  unsigned polls = 0;
  unsigned drain_only = 0;
};

// Queues the next step of `x`. False when the SQ has no room (retry later).
bool Step(Ring* ring, Xfer* x) {
  if (x->error != 0 || (x->in_pipe == 0 && x->left == 0)) {
    x->done = true;
    return true;
  }
  io_uring_sqe* s[2];
  if (x->in_pipe > 0) {
    unsigned n = x->need_poll ? 2 : 1;
    if (!ring->GetSqes(n, s)) return false;
    unsigned i = 0;
    if (x->need_poll) {
      PrepPollAdd(s[0], x->sock, POLLOUT);
      SetUserData(s[0], Ud(x->id, kPoll));
      SetLink(s[0]);
      ++x->polls;
      i = 1;
    } else {
      ++x->drain_only;
    }
    PrepSplice(s[i], x->pipe.r, kSpliceNoOffset, x->sock, kSpliceNoOffset,
               static_cast<unsigned>(x->in_pipe), kSpliceFlags);
    SetUserData(s[i], Ud(x->id, kDrain));
    x->inflight = static_cast<int>(n);
    return true;
  }
  if (!ring->GetSqes(2, s)) return false;
  x->fill_req = static_cast<unsigned>(std::min<uint64_t>(x->chunk, x->left));
  PrepSplice(s[0], x->file_fd, x->off, x->pipe.w, kSpliceNoOffset, x->fill_req,
             kSpliceFlags);
  SetUserData(s[0], Ud(x->id, kFill));
  SetLink(s[0]);
  PrepSplice(s[1], x->pipe.r, kSpliceNoOffset, x->sock, kSpliceNoOffset,
             x->fill_req, kSpliceFlags);
  SetUserData(s[1], Ud(x->id, kDrain));
  x->inflight = 2;
  ++x->chains;
  return true;
}

void OnCqe(Xfer* x, Tag tag, int res) {
  --x->inflight;
  switch (tag) {
    case kFill:
      if (res > 0) {
        x->in_pipe += static_cast<unsigned>(res);
        x->off += static_cast<unsigned>(res);
        x->left -= static_cast<unsigned>(res);
        if (static_cast<unsigned>(res) < x->fill_req) ++x->short_fills;
      } else if (res == 0) {
        x->error = -ENODATA;  // the file shrank under us: never pad
      } else {
        x->error = res;
      }
      break;
    case kDrain:
      if (res > 0) {
        bool short_drain = static_cast<uint64_t>(res) < x->in_pipe;
        x->in_pipe -= static_cast<unsigned>(res);
        x->sent += static_cast<unsigned>(res);
        x->need_poll = short_drain;
        if (short_drain) ++x->short_drains;
      } else if (res == -EAGAIN) {
        x->need_poll = true;
        ++x->eagains;
      } else if (res == -ECANCELED) {
        ++x->canceled;  // the fill came up short (or the poll failed)
      } else {
        x->error = res;
      }
      break;
    case kPoll:
      if (res < 0) x->error = res;
      break;
    default:
      x->error = -EPROTO;
  }
}

struct RunStats {
  unsigned wakeups = 0;
  unsigned submits_busy = 0;
  int max_workers = 0;
  bool timed_out = false;
};

// Drives all transfers to completion on one ring, waiting only on the
// eventfd. Fails (timed_out) if nothing completes for 5 s.
RunStats Drive(Ring* ring, std::vector<Xfer*>* xs) {
  RunStats st;
  for (;;) {
    bool all_done = true;
    for (Xfer* x : *xs) {
      if (!x->done && x->inflight == 0) Step(ring, x);
      if (!x->done) all_done = false;
    }
    if (all_done) break;
    int rc = ring->Submit();
    if (rc == -EBUSY || rc == -EAGAIN) ++st.submits_busy;
    pollfd p = {ring->eventfd(), POLLIN, 0};
    if (poll(&p, 1, 5000) == 0) {
      st.timed_out = true;
      break;
    }
    ++st.wakeups;
    if ((st.wakeups & 63) == 0) {
      st.max_workers = std::max(st.max_workers, CountIoWorkers());
    }
    ring->ReadEventfd();
    ring->DrainCompletions([&](uint64_t ud, int32_t res, uint32_t) {
      uint64_t id = ud >> 8;
      if (id < xs->size()) OnCqe((*xs)[id], static_cast<Tag>(ud & 0xff), res);
    });
  }
  return st;
}

struct XferSpec {
  bool tcp;
  uint64_t off;
  uint64_t len;
  unsigned chunk;
  int reader_delay_us;
};

void RunTransfers(const std::vector<XferSpec>& specs) {
  TempFile file;
  EXPECT(MakeTempFile(8 << 20, &file));
  if (file.fd < 0) return;
  Ring* ring = nullptr;
  EXPECT_EQ(Ring::Create(64, &ring), 0);
  if (ring == nullptr) return;

  std::vector<Xfer> store(specs.size());
  std::vector<Xfer*> xs;
  std::vector<Reader> readers(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Xfer& x = store[i];
    int rx = -1;
    bool ok = specs[i].tcp ? TcpPair(&x.sock, &rx) : UnixPair(&x.sock, &rx);
    EXPECT(ok);
    EXPECT(x.pipe.Open(1 << 20));
    x.id = static_cast<unsigned>(i);
    x.file_fd = file.fd;
    x.off = specs[i].off;
    x.left = specs[i].len;
    x.chunk = specs[i].chunk;
    xs.push_back(&x);
    readers[i].fd = rx;
    readers[i].expect = file.data.data() + specs[i].off;
    readers[i].len = specs[i].len;
    readers[i].delay_us = specs[i].reader_delay_us;
  }
  for (Reader& r : readers) r.Start();
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  RunStats st = Drive(ring, &xs);
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  double cpu = CpuSeconds() - cpu0;
  EXPECT(!st.timed_out);
  for (Xfer* x : xs) shutdown(x->sock, SHUT_WR);  // reader sees EOF
  for (Reader& r : readers) r.Join();

  unsigned total_eagain = 0;
  unsigned total_short_fill = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    Xfer& x = store[i];
    Reader& r = readers[i];
    EXPECT_EQ(x.error, 0);
    EXPECT_EQ(x.sent, specs[i].len);
    EXPECT_EQ(r.got, specs[i].len);
    EXPECT(!r.mismatch);
    EXPECT(!r.extra);
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(x.inflight, 0);
    if (r.mismatch) NOTE("xfer %zu: first wrong byte at %zu", i, r.mismatch_at);
    NOTE("xfer %zu %s off=%" PRIu64 " len=%" PRIu64
         " chunk=%u: chains=%u short_fills=%u drain(-EAGAIN)=%u "
         "short_drains=%u drain(-ECANCELED)=%u polls=%u drain_only=%u",
         i, specs[i].tcp ? "tcp " : "unix", specs[i].off, specs[i].len,
         specs[i].chunk, x.chains, x.short_fills, x.eagains, x.short_drains,
         x.canceled, x.polls, x.drain_only);
    total_eagain += x.eagains + x.short_drains;
    total_short_fill += x.short_fills;
    // A short fill must always have cancelled its linked drain.
    EXPECT(x.canceled >= x.short_fills);
    x.pipe.Close();
    close(x.sock);
    close(r.fd);
  }
  NOTE("%.2f s wall, %.3f s CPU, %u eventfd wakeups, max io-wq workers %d, "
       "submit busy %u",
       secs, cpu, st.wakeups, st.max_workers, st.submits_busy);
  // The slow readers must have pushed back, or the POLLOUT path went
  // untested.
  EXPECT(total_eagain > 0);
  (void)total_short_fill;
  delete ring;
  close(file.fd);
}

// ------------------------------------------------------------------ tests

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

}  // namespace

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
