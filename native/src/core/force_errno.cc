#include "core/force_errno.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sluice {
namespace core {
namespace {

struct ErrnoName {
  const char* name;
  int value;
};

constexpr ErrnoName kErrnoNames[] = {
    {"EPERM", EPERM},           {"ENOENT", ENOENT},
    {"EINTR", EINTR},           {"EIO", EIO},
    {"EBADF", EBADF},           {"EAGAIN", EAGAIN},
    {"ENOMEM", ENOMEM},         {"EACCES", EACCES},
    {"EFAULT", EFAULT},         {"EBUSY", EBUSY},
    {"EINVAL", EINVAL},         {"ENFILE", ENFILE},
    {"EMFILE", EMFILE},         {"ENOSPC", ENOSPC},
    {"EPIPE", EPIPE},           {"ENOSYS", ENOSYS},
    {"EOPNOTSUPP", EOPNOTSUPP}, {"ECONNRESET", ECONNRESET},
    {"ECANCELED", ECANCELED},
};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// [b, e) trimmed of spaces.
void Trim(const char** b, const char** e) {
  while (*b < *e && IsSpace(**b)) ++*b;
  while (*e > *b && IsSpace((*e)[-1])) --*e;
}

bool Equals(const char* b, const char* e, const char* s) {
  size_t n = static_cast<size_t>(e - b);
  return std::strlen(s) == n && std::memcmp(b, s, n) == 0;
}

// Positive errno for [b, e), or 0 when not recognised.
int ParseErrno(const char* b, const char* e) {
  if (b == e) return 0;
  if (*b >= '0' && *b <= '9') {
    int v = 0;
    for (const char* p = b; p < e; ++p) {
      if (*p < '0' || *p > '9' || v > 4095) return 0;
      v = v * 10 + (*p - '0');
    }
    return v < 4096 ? v : 0;
  }
  for (const ErrnoName& n : kErrnoNames) {
    if (Equals(b, e, n.name)) return n.value;
  }
  return 0;
}

// Calls fn(name_begin, name_end, positive_errno) for every well-formed
// `name:ERRNO` item of `spec`, in order, until fn returns true.
template <class F>
void ForEachItem(const char* spec, F fn) {
  const char* p = spec;
  while (*p != '\0') {
    const char* item_end = std::strchr(p, ',');
    if (item_end == nullptr) item_end = p + std::strlen(p);
    const char* colon = static_cast<const char*>(
        std::memchr(p, ':', static_cast<size_t>(item_end - p)));
    if (colon != nullptr) {
      const char* nb = p;
      const char* ne = colon;
      const char* eb = colon + 1;
      const char* ee = item_end;
      Trim(&nb, &ne);
      Trim(&eb, &ee);
      int value = ParseErrno(eb, ee);
      if (value != 0 && nb != ne && fn(nb, ne, value)) return;
    }
    p = *item_end == ',' ? item_end + 1 : item_end;
  }
}

// The parsed environment, built once.
struct Table {
  static constexpr int kMax = 16;
  static constexpr size_t kNameMax = 32;
  int count = 0;
  char names[kMax][kNameMax] = {};
  int values[kMax] = {};
};

Table ParseEnv() {
  Table t;
  const char* spec = std::getenv("SLUICE_FORCE_ERRNO");
  if (spec == nullptr) return t;
  ForEachItem(spec, [&t](const char* b, const char* e, int value) {
    size_t len = static_cast<size_t>(e - b);
    if (len >= Table::kNameMax) return false;
    std::memcpy(t.names[t.count], b, len);
    t.names[t.count][len] = '\0';
    t.values[t.count] = value;
    return ++t.count == Table::kMax;
  });
  return t;
}

}  // namespace

int ForcedErrnoFromSpec(const char* spec, const char* syscall_name) {
  if (spec == nullptr || syscall_name == nullptr) return 0;
  int rc = 0;
  ForEachItem(spec, [&](const char* b, const char* e, int value) {
    if (!Equals(b, e, syscall_name)) return false;
    rc = -value;
    return true;
  });
  return rc;
}

int ForcedErrno(const char* syscall_name) {
  static const Table table = ParseEnv();  // thread-safe, once
  if (table.count == 0 || syscall_name == nullptr) return 0;
  for (int i = 0; i < table.count; ++i) {
    if (std::strcmp(table.names[i], syscall_name) == 0) return -table.values[i];
  }
  return 0;
}

}  // namespace core
}  // namespace sluice
