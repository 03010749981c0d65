#include "core/front/reply.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace sluice {
namespace core {
namespace front {

namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                 "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void TwoDigits(int v, char* out) {
  out[0] = static_cast<char>('0' + (v / 10) % 10);
  out[1] = static_cast<char>('0' + v % 10);
}

// Where the value of the head's Date field starts, or npos. Node writes
// the field as "Date: <IMF-fixdate>\r\n" between the status line and the
// blank line; only a value of exactly that length is rewritten.
size_t FindDateValue(const std::string& head) {
  const std::string_view field = "\r\nDate: ";
  size_t end = head.find("\r\n\r\n");
  size_t at = head.find(field);
  if (at == std::string::npos || end == std::string::npos || at >= end) {
    return std::string::npos;
  }
  size_t value = at + field.size();
  if (value + kImfDateLength + 2 > head.size()) return std::string::npos;
  if (head.compare(value + kImfDateLength, 2, "\r\n") != 0) {
    return std::string::npos;
  }
  return value;
}

}  // namespace

void FormatImfDate(time_t t, char* out) {
  struct tm tm;
  gmtime_r(&t, &tm);
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::copy_n(kDays[tm.tm_wday], 3, out);
  out[3] = ',';
  out[4] = ' ';
  TwoDigits(tm.tm_mday, out + 5);
  out[7] = ' ';
  std::copy_n(kMonths[tm.tm_mon], 3, out + 8);
  out[11] = ' ';
  int year = tm.tm_year + 1900;
  TwoDigits(year / 100, out + 12);
  TwoDigits(year % 100, out + 14);
  out[16] = ' ';
  TwoDigits(tm.tm_hour, out + 17);
  out[19] = ':';
  TwoDigits(tm.tm_min, out + 20);
  out[22] = ':';
  TwoDigits(tm.tm_sec, out + 23);
  std::copy_n(" GMT", 4, out + 25);
}

Reply::Reply(std::string head, std::string inline_body, int file_fd,
             int64_t file_offset, uint64_t file_length, bool close_after,
             double token)
    : head_(std::move(head)),
      date_at_(FindDateValue(head_)),
      inline_body_(std::move(inline_body)),
      file_fd_(file_fd),
      file_offset_(file_offset),
      file_length_(file_fd >= 0 ? file_length : 0),
      close_after_(close_after),
      token_(token) {}

Reply::~Reply() {
  if (file_fd_ >= 0) close(file_fd_);
}

ReplyCache::ReplyCache(size_t max_entries, size_t max_bytes, size_t max_files)
    : max_entries_(max_entries), max_bytes_(max_bytes), max_files_(max_files) {}

std::shared_ptr<const Reply> ReplyCache::Find(std::string_view key,
                                              uint64_t now_ms) {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return nullptr;
  if (it->second.expires_ms <= now_ms) {
    Erase(it);
    return nullptr;
  }
  return it->second.reply;
}

void ReplyCache::Insert(std::string key, std::shared_ptr<const Reply> reply,
                        uint64_t expires_ms, uint64_t now_ms) {
  size_t incoming = key.size() + reply->footprint();
  bool holds_file = reply->file_fd() >= 0;
  if (incoming > max_bytes_ || max_entries_ == 0) return;
  if (holds_file && max_files_ == 0) return;
  auto old = entries_.find(key);
  if (old != entries_.end()) Erase(old);
  MakeRoom(incoming, holds_file, now_ms);
  bytes_ += incoming;
  if (holds_file) files_++;
  entries_.emplace(std::move(key),
                   Entry{std::move(reply), expires_ms, inserted_++});
}

void ReplyCache::Forget(const Reply* reply) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.reply.get() == reply) Erase(it);
    it = next;
  }
}

void ReplyCache::DropExpired(uint64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.expires_ms <= now_ms) Erase(it);
    it = next;
  }
}

void ReplyCache::Clear() {
  entries_.clear();
  bytes_ = 0;
  files_ = 0;
}

void ReplyCache::Erase(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->first.size() + it->second.reply->footprint();
  if (it->second.reply->file_fd() >= 0) files_--;
  entries_.erase(it);
}

void ReplyCache::MakeRoom(size_t incoming, bool holds_file, uint64_t now_ms) {
  auto full = [&] {
    return entries_.size() + 1 > max_entries_ ||
           bytes_ + incoming > max_bytes_ ||
           (holds_file && files_ + 1 > max_files_);
  };
  if (!full()) return;
  DropExpired(now_ms);
  if (!full()) return;
  // Still full of live entries: drop the older half (by insertion).
  std::vector<uint64_t> order;
  order.reserve(entries_.size());
  for (const auto& e : entries_) order.push_back(e.second.inserted);
  std::nth_element(order.begin(), order.begin() + order.size() / 2,
                   order.end());
  uint64_t median = order[order.size() / 2];
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.inserted <= median) Erase(it);
    it = next;
  }
}

}  // namespace front
}  // namespace core
}  // namespace sluice
