#include "transfer.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/dup_socket.h"

namespace sluice {

int Transfer::Start(Napi::Env env, int64_t id, int sock_fd,
                    std::vector<core::Segment> segments,
                    std::unique_ptr<core::FileMover> mover, uint64_t max_chunk,
                    Napi::Function callback) {
  // Refuse a duplicate id before any byte goes out: after that the only
  // honest outcome would be a broken connection.
  AddonState* state = GetState(env);
  if (state->transfers.count(id) != 0) return -EEXIST;
  // The duplicate comes first, though a transfer that finishes within the
  // call never uses it: out of descriptors (EMFILE), nothing has been sent,
  // so the caller can still send the body another way. After the first
  // byte, running short of one could only cut the body.
  int dup_fd = core::DupSocket(sock_fd);
  if (dup_fd < 0) return dup_fd;
  core::Cursor cursor;
  int status = core::Pump(sock_fd, &segments, &cursor, mover.get(), max_chunk);
  if (status != core::kAgain && status != core::kYield) {
    close(dup_fd);
    return status;
  }
  Transfer* t = new Transfer(env, state, id, dup_fd, std::move(segments),
                             std::move(mover), max_chunk, cursor, callback);
  int rc = uv_poll_init(state->loop, &t->poll_, dup_fd);
  if (rc == 0) rc = uv_poll_start(&t->poll_, UV_WRITABLE, OnPoll);
  if (rc != 0) {
    // Not yet registered anywhere: undo by hand. uv_poll_init may have
    // failed before the handle joined the loop, so it is not closed.
    close(dup_fd);
    delete t;
    return rc;
  }
  state->transfers.emplace(id, t);
  return core::kPending;
}

Transfer::Transfer(Napi::Env env, AddonState* state, int64_t id, int fd,
                   std::vector<core::Segment> segments,
                   std::unique_ptr<core::FileMover> mover, uint64_t max_chunk,
                   core::Cursor cursor, Napi::Function callback)
    : env_(env),
      state_(state),
      id_(id),
      fd_(fd),
      segments_(std::move(segments)),
      mover_(std::move(mover)),
      max_chunk_(max_chunk),
      cursor_(cursor),
      callback_(env, callback, "sluice:transfer") {
  poll_.data = this;
}

bool Transfer::Cancel(Napi::Env env, int64_t id) {
  AddonState* state = GetState(env);
  auto it = state->transfers.find(id);
  if (it == state->transfers.end() || it->second->finishing_) return false;
  it->second->Finish(-ECANCELED);
  return true;
}

int64_t Transfer::Progress(Napi::Env env, int64_t id) {
  AddonState* state = GetState(env);
  auto it = state->transfers.find(id);
  if (it == state->transfers.end()) return -1;
  return static_cast<int64_t>(it->second->cursor_.total);
}

void Transfer::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  static_cast<Transfer*>(handle->data)->Step(status);
}

void Transfer::Step(int poll_status) {
  if (finishing_) return;
  // On POLLERR libuv reports UV_EBADF; a send then yields the real error
  // (EPIPE, ECONNRESET), so try once before giving up.
  int status = core::Pump(fd_, &segments_, &cursor_, mover_.get(), max_chunk_);
  if (poll_status < 0 && (status == core::kAgain || status == core::kYield)) {
    status = poll_status;
  }
  // kAgain: epoll wakes us when the socket drains. kYield: the socket is
  // still writable, so the poll fires on the next loop turn, after others.
  if (status == core::kAgain || status == core::kYield) return;
  Finish(status);
}

void Transfer::Finish(int status) {
  finishing_ = true;
  status_ = status;
  // Give back the mover's resources now, before the callback can start
  // another transfer: an empty pipe returns to the pool, one with bytes
  // left in it is closed.
  mover_.reset();
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
}

void Transfer::OnClosed(uv_handle_t* handle) {
  Transfer* t = static_cast<Transfer*>(handle->data);
  // The poll is off the loop: only now may the fd number be released.
  close(t->fd_);
  if (t->state_ == nullptr) {  // the environment is going away: no JS
    delete t;
    return;
  }
  t->state_->transfers.erase(t->id_);
  t->callback_.Call(t->env_, t->status_, t->cursor_.total);
  delete t;
}

void Transfer::CloseAll(AddonState* state) {
  for (auto& entry : state->transfers) {
    Transfer* t = entry.second;
    t->state_ = nullptr;
    // The pipe pool dies with the state; OnClosed may run later or never.
    t->mover_.reset();
    if (!t->finishing_) {
      t->finishing_ = true;
      uv_poll_stop(&t->poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(&t->poll_), OnClosed);
    }
  }
  state->transfers.clear();
}

}  // namespace sluice
