#include "core/uring/engine.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace sluice {
namespace core {

bool BatchSubmitsFromEnv() {
  const char* v = std::getenv("SLUICE_URING_BATCH");
  if (v == nullptr) return UringEngine::kDefaultBatchSubmits;
  return std::strcmp(v, "0") != 0;
}

TaskRun TaskRunFromEnv() {
  const char* v = std::getenv("SLUICE_URING_TASKRUN");
  if (v == nullptr) return UringEngine::kDefaultTaskRun;
  if (std::strcmp(v, "interrupt") == 0) return TaskRun::kInterrupt;
  if (std::strcmp(v, "cooperative") == 0) return TaskRun::kCooperative;
  if (std::strcmp(v, "deferred") == 0) return TaskRun::kDeferred;
  return UringEngine::kDefaultTaskRun;
}

int UringEngine::Create(PipePool* pipes, UringEngine** out,
                        const char** failed_syscall) {
  *out = nullptr;
  Ring* ring = nullptr;
  int rc = Ring::Create(kRingEntries, &ring, failed_syscall, TaskRunFromEnv());
  if (rc < 0) return rc;
  *out = new (std::nothrow) UringEngine(ring, pipes, BatchSubmitsFromEnv());
  if (*out == nullptr) {
    delete ring;
    if (failed_syscall != nullptr) *failed_syscall = "new";
    return -ENOMEM;
  }
  return 0;
}

UringEngine::~UringEngine() {
  delete ring_;
  bodies_.clear();
}

int UringEngine::Start(uint64_t key, int sock_fd, std::vector<Segment> segments,
                       uint64_t max_chunk) {
  if (key > kMaxUringKey || Has(key)) {
    close(sock_fd);
    return -EINVAL;
  }
  auto owned = std::make_unique<UringBody>(key, sock_fd, std::move(segments),
                                           max_chunk, pipes_);
  UringBody* body = owned.get();
  // Before any byte: see TakePipe.
  int rc = body->TakePipe();
  if (rc < 0) return rc;
  bool queued = body->Advance(ring_);
  if (!queued) {
    Submit();
    queued = body->Advance(ring_);
  }
  // Finished without a single SQE (literal bytes only, or an error before
  // any): the caller reports it; `owned` closes the fd on the way out.
  if (body->finished()) return body->status();
  bodies_.emplace(key, std::move(owned));
  if (!queued) {
    stalled_.push_back(key);
    WakeSoon();
  }
  // Batched: the caller calls Flush() once for every body started in this
  // turn of its loop, before the loop next waits.
  if (!batch_submits_) Submit();
  return kPending;
}

void UringEngine::Flush() { Submit(); }

bool UringEngine::HasUnsubmitted() const { return ring_->SqPending() > 0; }

bool UringEngine::Cancel(uint64_t key, int status) {
  auto it = bodies_.find(key);
  if (it == bodies_.end() || it->second->stopping()) return false;
  it->second->Abort(status);
  Service(it->second.get());
  Submit();
  // A body with nothing in flight finished on the spot; JS still expects
  // its callback later, from the loop, like every other.
  if (!done_.empty() || !stalled_.empty()) WakeSoon();
  return true;
}

std::vector<UringFinished> UringEngine::OnWake() {
  // Clear first: a CQE posted during the drain re-arms the eventfd.
  ring_->ReadEventfd();
  if (ring_->TaskWorkPending()) ring_->RunTaskWork();
  ring_->DrainCompletions([this](uint64_t user_data, int32_t res, uint32_t) {
    auto it = bodies_.find(UringKeyOf(user_data));
    if (it == bodies_.end()) return;  // impossible: bodies outlive their CQEs
    UringBody* body = it->second.get();
    body->OnCompletion(UringOpOf(user_data), UringStepOf(user_data), res);
    Service(body);
  });
  Submit();
  RetryStalled();
  std::vector<UringFinished> finished;
  finished.swap(done_);
  return finished;
}

void UringEngine::Service(UringBody* body) {
  bool queued = body->Advance(ring_);
  if (!queued) {
    Submit();  // frees the SQ unless the kernel pushes back (-EBUSY)
    queued = body->Advance(ring_);
  }
  uint64_t key = body->key();
  if (!queued) {
    stalled_.push_back(key);
    return;
  }
  if (!body->finished()) return;
  done_.push_back(UringFinished{key, body->status(), body->total()});
  bodies_.erase(key);  // closes the duplicate, returns the pipe
}

void UringEngine::Submit() {
  // A negative result (-EBUSY / -EAGAIN under completion pressure) leaves
  // the SQEs queued; the next Submit, after a drain, sends them. Prep
  // errors come back as CQEs (IORING_SETUP_SUBMIT_ALL), not from here.
  if (ring_->SqPending() > 0) ring_->Submit();
  // Deferred or cooperative task work, or a completion posted inside the
  // submit, may signal no eventfd: look, and wake ourselves if need be.
  if (ring_->task_run() != TaskRun::kInterrupt &&
      (ring_->TaskWorkPending() || ring_->CqReady())) {
    WakeSoon();
  }
}

void UringEngine::RetryStalled() {
  if (stalled_.empty()) return;
  std::vector<uint64_t> keys;
  keys.swap(stalled_);
  for (uint64_t key : keys) {
    auto it = bodies_.find(key);
    if (it != bodies_.end()) Service(it->second.get());
  }
  Submit();
  // Nothing in flight would wake us for whoever is still stuck.
  if (!stalled_.empty()) WakeSoon();
}

void UringEngine::WakeSoon() {
  uint64_t one = 1;
  // Cannot fail short of a counter overflow; a failed write only delays
  // the report to the next completion.
  ssize_t n = write(ring_->eventfd(), &one, sizeof(one));
  (void)n;
}

int64_t UringEngine::Progress(uint64_t key) const {
  auto it = bodies_.find(key);
  if (it == bodies_.end()) return -1;
  return static_cast<int64_t>(it->second->total());
}

UringEngineStats UringEngine::Stats() const {
  UringEngineStats stats{bodies_.size(), 0, 0};
  for (const auto& entry : bodies_) {
    stats.in_flight += entry.second->inflight();
    if (entry.second->holds_pipe()) stats.pipes++;
  }
  return stats;
}

}  // namespace core
}  // namespace sluice
