// What the front door answers a request with: the exact bytes Node's HTTP
// layer wrote for the same request head, kept per head for a short while.
// Plain C++: no Node-API, no libuv.
#ifndef SLUICE_CORE_FRONT_REPLY_H_
#define SLUICE_CORE_FRONT_REPLY_H_

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice {
namespace core {
namespace front {

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is always this long.
constexpr size_t kImfDateLength = 29;

// Writes `t` (UTC) as an IMF-fixdate into out[0..kImfDateLength).
void FormatImfDate(time_t t, char* out);

// One response. Immutable once made, so a connection part-way through
// sending it never sees it change.
class Reply {
 public:
  // `head`: the response head as Node wrote it; `inline_body`: body bytes
  // sent from memory after it (small files, generated pages); then
  // `file_length` bytes of `file_fd` from `file_offset`, when file_fd >= 0.
  // The Reply owns `file_fd` (a duplicate) and closes it when the last
  // connection sending it lets go.
  // `token` names the reply to its maker (to say which file shrank).
  Reply(std::string head, std::string inline_body, int file_fd,
        int64_t file_offset, uint64_t file_length, bool close_after,
        double token);
  ~Reply();
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  const std::string& head() const { return head_; }
  // Where the Date field's value starts in head(), or npos: each send
  // writes the current second there, in its own copy of the head.
  size_t date_at() const { return date_at_; }
  const std::string& inline_body() const { return inline_body_; }
  int file_fd() const { return file_fd_; }
  int64_t file_offset() const { return file_offset_; }
  uint64_t file_length() const { return file_length_; }
  // Node's head said `Connection: close`: end the connection after it.
  bool close_after() const { return close_after_; }
  double token() const { return token_; }
  // Body bytes: what the access log and the byte counters call "sent".
  uint64_t body_length() const { return inline_body_.size() + file_length_; }
  // Memory the cache charges for this reply.
  size_t footprint() const { return head_.size() + inline_body_.size(); }

 private:
  std::string head_;
  size_t date_at_;
  std::string inline_body_;
  int file_fd_;
  int64_t file_offset_;
  uint64_t file_length_;
  bool close_after_;
  double token_;
};

// Request head bytes -> the reply Node gave them, until it expires. Two
// requests with the same head bytes get the same answer from Node within
// the file table's trust window, which is what entries live for. Bounded in
// entries, in bytes and in entries holding a file descriptor (heads that
// differ in any byte, a User-Agent say, each get their own entry and their
// own duplicate): past any, expired entries go first, then the oldest half.
class ReplyCache {
 public:
  ReplyCache(size_t max_entries, size_t max_bytes, size_t max_files);

  // The live reply for `key` at `now_ms`, or null (an expired one is
  // dropped on the way).
  std::shared_ptr<const Reply> Find(std::string_view key, uint64_t now_ms);
  void Insert(std::string key, std::shared_ptr<const Reply> reply,
              uint64_t expires_ms, uint64_t now_ms);
  // Drops every entry holding `reply` (its file turned out shorter).
  void Forget(const Reply* reply);
  // Drops the entries expired at `now_ms`, so their descriptors close
  // without waiting for the next insert.
  void DropExpired(uint64_t now_ms);
  void Clear();
  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }
  size_t files() const { return files_; }

 private:
  struct Entry {
    std::shared_ptr<const Reply> reply;
    uint64_t expires_ms;
    uint64_t inserted;  // insertion order, for the oldest-half eviction
  };
  void Erase(std::unordered_map<std::string, Entry>::iterator it);
  void MakeRoom(size_t incoming, bool holds_file, uint64_t now_ms);

  size_t max_entries_;
  size_t max_bytes_;
  size_t max_files_;
  size_t bytes_ = 0;
  size_t files_ = 0;
  uint64_t inserted_ = 0;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace front
}  // namespace core
}  // namespace sluice

#endif  // SLUICE_CORE_FRONT_REPLY_H_
