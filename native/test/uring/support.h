// What every io_uring core test shares: the harness (EXPECT, Run), file
// and socket fixtures, descriptor and io-wq counters, and a transfer driver
// that runs linked SPLICE file->pipe->socket chains the way the io_uring
// engine does. Header-only: one copy of the harness's counters (inline
// variables) for every test file.
#ifndef NATIVE_TEST_URING_SUPPORT_H_
#define NATIVE_TEST_URING_SUPPORT_H_

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

namespace uring_test {

// ---------------------------------------------------------------- harness

inline int g_passed = 0;
inline int g_failed = 0;
inline bool g_ok = true;

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

inline void Run(const char* name, void (*fn)()) {
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

inline const char* ErrName(int res) {
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

inline int CountDir(const char* path) {
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
inline int CountFds() { return CountDir("/proc/self/fd") - 1; }

// Mappings of io_uring rings in this process ("anon_inode:[io_uring]").
inline int CountRingMaps() {
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
inline int CountIoWorkers() {
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

inline double CpuSeconds() {
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
inline bool MakeTempFile(size_t size, TempFile* out) {
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

inline void SetNonblock(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

// A connected pair: *sender (nonblocking, like a Node socket) and *receiver
// (blocking). Small buffers so a slow reader pushes back quickly.
inline bool UnixPair(int* sender, int* receiver) {
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

inline bool TcpPair(int* sender, int* receiver) {
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
inline size_t FillSocket(int fd) {
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
inline io_uring_sqe* MustSqe(Ring* ring) {
  io_uring_sqe* sqe = ring->GetSqe();
  if (sqe == nullptr) {
    std::printf("  FATAL: SQ full\n");
    std::exit(2);
  }
  return sqe;
}

inline void MustSqes(Ring* ring, unsigned n, io_uring_sqe** out) {
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
inline std::vector<Cqe> Reap(Ring* ring, size_t want, int timeout_ms) {
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

inline const Cqe* Find(const std::vector<Cqe>& v, uint64_t ud) {
  for (const Cqe& c : v) {
    if (c.ud == ud) return &c;
  }
  return nullptr;
}

inline int ResOf(const std::vector<Cqe>& v, uint64_t ud) {
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

inline uint64_t Ud(uint64_t id, Tag tag) { return (id << 8) | tag; }

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
inline bool Step(Ring* ring, Xfer* x) {
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

inline void OnCqe(Xfer* x, Tag tag, int res) {
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
inline RunStats Drive(Ring* ring, std::vector<Xfer*>* xs) {
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

inline void RunTransfers(const std::vector<XferSpec>& specs) {
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

}  // namespace uring_test

#endif  // NATIVE_TEST_URING_SUPPORT_H_
