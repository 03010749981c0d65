#include "core/front/request_head.h"

#include <cstring>
#include <string_view>

namespace sluice {
namespace core {
namespace front {

namespace {

bool IsTokenChar(uint8_t ch) {
  if (ch >= '0' && ch <= '9') return true;
  if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr && ch != 0;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

// Fields whose presence makes the request Node's: a body, a protocol
// switch, or semantics the front door does not replay.
bool IsNodesField(std::string_view name) {
  for (std::string_view f :
       {"content-length", "transfer-encoding", "upgrade", "expect", "range",
        "if-range", "if-match", "if-unmodified-since", "te", "trailer",
        "http2-settings"}) {
    if (EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

// The request line: "GET|HEAD SP origin-form SP HTTP/1.0|1.1".
bool ParseRequestLine(std::string_view line, RequestHead* out) {
  size_t target = 0;
  if (line.substr(0, 4) == "GET ") {
    target = 4;
  } else if (line.substr(0, 5) == "HEAD ") {
    target = 5;
    out->is_head = true;
  } else {
    return false;
  }
  if (line.size() < target + 1 + 9 || line[target] != '/') return false;
  std::string_view version = line.substr(line.size() - 9);
  if (version == " HTTP/1.1") {
    out->minor_version = 1;
  } else if (version == " HTTP/1.0") {
    out->minor_version = 0;
  } else {
    return false;
  }
  for (size_t i = target; i < line.size() - 9; i++) {
    uint8_t ch = static_cast<uint8_t>(line[i]);
    if (ch <= 0x20 || ch >= 0x7f || ch == '#') return false;
  }
  return true;
}

// One field line: token ":" OWS value OWS, value bytes VCHAR / SP / HTAB.
bool ParseField(std::string_view line) {
  size_t colon = 0;
  while (colon < line.size() && IsTokenChar(line[colon])) colon++;
  if (colon == 0 || colon >= line.size() || line[colon] != ':') return false;
  if (IsNodesField(line.substr(0, colon))) return false;
  for (size_t i = colon + 1; i < line.size(); i++) {
    uint8_t ch = static_cast<uint8_t>(line[i]);
    if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) return false;
  }
  return true;
}

bool HasBareLineFeed(std::string_view bytes) {
  for (size_t i = bytes.find('\n'); i != std::string_view::npos;
       i = bytes.find('\n', i + 1)) {
    if (i == 0 || bytes[i - 1] != '\r') return true;
  }
  return false;
}

}  // namespace

HeadStatus ParseRequestHead(const uint8_t* data, size_t size,
                            RequestHead* out) {
  *out = RequestHead();
  std::string_view bytes(reinterpret_cast<const char*>(data),
                         size < kMaxHeadBytes ? size : kMaxHeadBytes);
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    // A head that ends lines with a bare LF never shows a CRLF CRLF: it is
    // Node's now, rather than after the first-request timeout.
    if (size >= kMaxHeadBytes || HasBareLineFeed(bytes)) {
      return HeadStatus::kHandOver;
    }
    return HeadStatus::kIncomplete;
  }
  std::string_view head = bytes.substr(0, end + 2);
  size_t at = head.find("\r\n");
  if (!ParseRequestLine(head.substr(0, at), out)) return HeadStatus::kHandOver;
  for (at += 2; at < head.size();) {
    size_t eol = head.find("\r\n", at);
    std::string_view line = head.substr(at, eol - at);
    // A bare CR or LF inside a line is Node's to judge.
    if (line.find_first_of("\r\n") != std::string_view::npos ||
        !ParseField(line)) {
      return HeadStatus::kHandOver;
    }
    at = eol + 2;
  }
  out->head_length = static_cast<uint32_t>(end + 4);
  return HeadStatus::kPlain;
}

}  // namespace front
}  // namespace core
}  // namespace sluice
