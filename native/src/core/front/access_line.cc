#include "core/front/access_line.h"

#include <time.h>

#include <cstdio>

namespace sluice {
namespace core {
namespace front {

namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct RequestLine {
  std::string_view method, target, version;
  // Values of the first Referer and User-Agent fields (Node keeps the first
  // of each and drops repeats), and whether there was one.
  std::string_view referer, agent;
  bool has_referer = false, has_agent = false;
};

bool SameName(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::string_view Trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return v;
}

// "GET|HEAD SP target SP HTTP/1.0|1.1", as access-log.ts reads it.
bool ParseStartLine(std::string_view line, RequestLine* out) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  out->method = line.substr(0, sp1);
  out->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view proto = line.substr(sp2 + 1);
  if (out->method != "GET" && out->method != "HEAD") return false;
  if (proto != "HTTP/1.1" && proto != "HTTP/1.0") return false;
  for (char c : out->target) {
    if (c == ' ' || c == '\t') return false;
  }
  out->version = proto.substr(5);
  return true;
}

bool ParseHead(std::string_view head, RequestLine* out) {
  size_t end = head.find("\r\n");
  if (end == std::string_view::npos ||
      !ParseStartLine(head.substr(0, end), out)) {
    return false;
  }
  size_t at = end + 2;
  while (at < head.size()) {
    size_t eol = head.find("\r\n", at);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view field = head.substr(at, eol - at);
    at = eol + 2;
    size_t colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos) continue;
    std::string_view name = field.substr(0, colon);
    std::string_view value = Trimmed(field.substr(colon + 1));
    if (!out->has_referer && SameName(name, "referer")) {
      out->referer = value;
      out->has_referer = true;
    } else if (!out->has_agent && SameName(name, "user-agent")) {
      out->agent = value;
      out->has_agent = true;
    }
  }
  return true;
}

bool IsHealth(const RequestLine& r, std::string_view health) {
  if (health.empty()) return false;
  std::string_view t = r.target;
  return t == health ||
         (t.size() > health.size() && t.substr(0, health.size()) == health &&
          t[health.size()] == '?');
}

void AppendHex(unsigned char c, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

// Quotes, backslashes, control bytes and bytes past ASCII as \xHH, as
// nginx (and escapeLogField) write them, so no field can forge a line.
void AppendEscaped(std::string_view v, std::string* out) {
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) {
      out->append("\\x");
      AppendHex(c, out);
    } else {
      out->push_back(ch);
    }
  }
}

// A JSON string as JSON.stringify writes one whose characters are these
// bytes (latin1), in UTF-8.
void AppendJsonString(std::string_view v, std::string* out) {
  out->push_back('"');
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          AppendHex(c, out);
        } else if (c >= 0x80) {
          out->push_back(static_cast<char>(0xc0 | (c >> 6)));
          out->push_back(static_cast<char>(0x80 | (c & 0x3f)));
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonOrNull(bool present, std::string_view v, std::string* out) {
  if (present) {
    AppendJsonString(v, out);
  } else {
    out->append("null");
  }
}

// The two date forms of the second `now_ms` falls in, made once per
// second (a line at 70,000 requests a second would otherwise pay gmtime
// and snprintf each time); per thread, as each worker thread has its own
// front door.
struct SecondStamp {
  int64_t second = -1;
  std::string clf;  // [25/Nov/2026:22:05:01 +0000]
  std::string iso;  // 2026-11-25T22:05:01 (toISOString without .mmmZ)
};

const SecondStamp& StampOf(int64_t now_ms) {
  thread_local SecondStamp stamp;
  int64_t second = now_ms / 1000;
  if (stamp.second == second) return stamp;
  time_t seconds = static_cast<time_t>(second);
  struct tm t = {};
  gmtime_r(&seconds, &t);
  char buf[40];
  int n = snprintf(buf, sizeof(buf), "[%02d/%s/%04d:%02d:%02d:%02d +0000]",
                   t.tm_mday, kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour,
                   t.tm_min, t.tm_sec);
  stamp.clf.assign(buf, static_cast<size_t>(n));
  n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d",
               t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
               t.tm_sec);
  stamp.iso.assign(buf, static_cast<size_t>(n));
  stamp.second = second;
  return stamp;
}

void AppendClfDate(int64_t now_ms, std::string* out) {
  out->append(StampOf(now_ms).clf);
}

// "2026-11-25T22:05:01.123Z" (Date's toISOString, quoted)
void AppendIsoDate(int64_t now_ms, std::string* out) {
  int ms = static_cast<int>(now_ms % 1000);
  out->push_back('"');
  out->append(StampOf(now_ms).iso);
  const char digits[] = {'.',
                         static_cast<char>('0' + ms / 100),
                         static_cast<char>('0' + ms / 10 % 10),
                         static_cast<char>('0' + ms % 10),
                         'Z',
                         '"'};
  out->append(digits, sizeof(digits));
}

bool HasBody(const RequestLine& r, int status) {
  return r.method != "HEAD" && status != 304;
}

void AppendCombined(const LoggedReply& reply, const RequestLine& r,
                    std::string* out) {
  out->append(reply.remote.empty() ? std::string_view("-") : reply.remote);
  out->append(" - - ");
  AppendClfDate(reply.now_ms, out);
  out->append(" \"");
  AppendEscaped(r.method, out);
  out->push_back(' ');
  AppendEscaped(r.target, out);
  out->append(" HTTP/");
  AppendEscaped(r.version, out);
  out->append("\" ");
  out->append(std::to_string(reply.status));
  out->push_back(' ');
  if (HasBody(r, reply.status) && reply.body_bytes > 0) {
    out->append(std::to_string(reply.body_bytes));
  } else {
    out->push_back('-');
  }
  out->append(" \"");
  AppendEscaped(r.has_referer ? r.referer : std::string_view("-"), out);
  out->append("\" \"");
  AppendEscaped(r.has_agent ? r.agent : std::string_view("-"), out);
  out->append("\"\n");
}

// The keys and their order are access-log.ts's formatJsonLine.
void AppendJson(const LoggedReply& reply, const RequestLine& r,
                std::string* out) {
  bool known = !reply.remote.empty();
  out->append("{\"time\":");
  AppendIsoDate(reply.now_ms, out);
  out->append(",\"remote\":");
  AppendJsonOrNull(known, reply.remote, out);
  out->append(",\"peer\":");
  AppendJsonOrNull(known, reply.remote, out);
  out->append(",\"method\":");
  AppendJsonString(r.method, out);
  out->append(",\"url\":");
  AppendJsonString(r.target, out);
  out->append(",\"protocol\":\"HTTP/");
  out->append(r.version);
  out->append("\",\"status\":");
  out->append(std::to_string(reply.status));
  out->append(",\"bytes\":");
  out->append(HasBody(r, reply.status) ? std::to_string(reply.body_bytes)
                                       : "0");
  out->append(",\"ms\":");
  out->append(std::to_string(reply.ms));
  out->append(",\"referer\":");
  AppendJsonOrNull(r.has_referer, r.referer, out);
  out->append(",\"agent\":");
  AppendJsonOrNull(r.has_agent, r.agent, out);
  out->append("}\n");
}

}  // namespace

bool AppendAccessLine(LogFormat format, std::string_view health,
                      const LoggedReply& reply, std::string* out) {
  RequestLine r;
  if (!ParseHead(reply.request_head, &r) || IsHealth(r, health)) return false;
  if (format == LogFormat::kJson) {
    AppendJson(reply, r, out);
  } else {
    AppendCombined(reply, r, out);
  }
  return true;
}

}  // namespace front
}  // namespace core
}  // namespace sluice
