// Standalone test of the front door's core (native/src/core/front): the
// request-head classifier, fuzzed with mutations of real heads, the
// reply cache's bounds, and the access log lines (known lines, and any
// bytes as a head). .ci/run builds it with AddressSanitizer and
// UndefinedBehaviorSanitizer:
//
//   g++ -std=c++17 -Wall -Wextra -Werror -g -O1
//     -fsanitize=address,undefined -fno-sanitize-recover=all -Inative/src
//     native/test/front_core_test.cc native/src/core/front/request_head.cc
//     native/src/core/front/reply.cc native/src/core/front/access_line.cc
//     -o /tmp/front_core_test
//   /tmp/front_core_test [iterations]
//
// Prints "N passed, M failed" and exits non-zero on any failure.
#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/front/access_line.h"
#include "core/front/reply.h"
#include "core/front/request_head.h"

namespace {

using sluice::core::front::AppendAccessLine;
using sluice::core::front::FormatImfDate;
using sluice::core::front::HeadStatus;
using sluice::core::front::kMaxHeadBytes;
using sluice::core::front::LogFormat;
using sluice::core::front::LoggedReply;
using sluice::core::front::ParseRequestHead;
using sluice::core::front::Reply;
using sluice::core::front::ReplyCache;
using sluice::core::front::RequestHead;

int passed = 0;
int failed = 0;

void Check(bool ok, const std::string& what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

HeadStatus Classify(const std::string& bytes, RequestHead* head) {
  // A heap copy of exactly the bytes, so ASan sees any read past them.
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  return ParseRequestHead(copy.data(), copy.size(), head);
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s.substr(0, 120)) {
    if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch < 0x20 || ch >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out += hex;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}

void ExpectStatus(const std::string& bytes, HeadStatus want) {
  RequestHead head;
  Check(Classify(bytes, &head) == want,
        "status of \"" + Printable(bytes) + "\"");
}

void TestKnownHeads() {
  RequestHead head;
  std::string get = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
  Check(Classify(get, &head) == HeadStatus::kPlain, "a plain GET");
  Check(head.head_length == get.size() && !head.is_head &&
            head.minor_version == 1,
        "a plain GET's length, method and version");
  Check(Classify(get + "GET /b HTTP/1.1\r\n", &head) == HeadStatus::kPlain &&
            head.head_length == get.size(),
        "a pipelined GET ends at its own blank line");
  Check(Classify("HEAD / HTTP/1.0\r\n\r\n", &head) == HeadStatus::kPlain &&
            head.is_head && head.minor_version == 0,
        "HEAD over HTTP/1.0");

  ExpectStatus("GET /a HTTP/1.1\r\nHost: x\r\n", HeadStatus::kIncomplete);
  ExpectStatus("GET /a HTTP/1.1\r\nHost: x\r\n\r", HeadStatus::kIncomplete);
  ExpectStatus("", HeadStatus::kIncomplete);
  // Bare LF line ends: Node's at once, not after a timeout.
  ExpectStatus("GET /a HTTP/1.1\nHost: x\n\n", HeadStatus::kHandOver);
  ExpectStatus("GET /a HTTP/1.1\r\nHost: x\n\r\n\r\n", HeadStatus::kHandOver);
  ExpectStatus("GET /a HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",
               HeadStatus::kHandOver);
  // Anything with a body, a protocol switch or a precondition not replayed.
  for (const char* field :
       {"Content-Length: 0", "Transfer-Encoding: chunked", "Upgrade: h2c",
        "Expect: 100-continue", "Range: bytes=0-1", "If-Range: \"x\"",
        "If-Match: *", "If-Unmodified-Since: x", "TE: trailers", "Trailer: x",
        "HTTP2-Settings: x", "content-LENGTH: 5"}) {
    ExpectStatus(std::string("GET / HTTP/1.1\r\n") + field + "\r\n\r\n",
                 HeadStatus::kHandOver);
  }
  for (const char* line :
       {"POST / HTTP/1.1", "get / HTTP/1.1", "GET  / HTTP/1.1",
        "GET http://x/ HTTP/1.1", "GET * HTTP/1.1", "GET / HTTP/2.0",
        "GET / HTTP/1.1 ", "GET /a#b HTTP/1.1", "GET /\x7f HTTP/1.1",
        "GET /\xc3\xa9 HTTP/1.1", "GET /", "GET / HTTP/1.10"}) {
    ExpectStatus(std::string(line) + "\r\nHost: x\r\n\r\n",
                 HeadStatus::kHandOver);
  }
  for (const char* field :
       {" Host: x", "Host : x", ": x", "Host", "Ho\x01st: x", "Host: \x01",
        "Host: caf\xc3\xa9", "Host: a\x7f", "H\"ost: x"}) {
    ExpectStatus(std::string("GET / HTTP/1.1\r\n") + field + "\r\n\r\n",
                 HeadStatus::kHandOver);
  }
  std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(kMaxHeadBytes, 'a');
  ExpectStatus(huge, HeadStatus::kHandOver);
  ExpectStatus(huge + "\r\n\r\n", HeadStatus::kHandOver);
}

// What a head classified plain must be, whatever bytes it came from.
bool PlainInvariants(const std::string& bytes, const RequestHead& head,
                     std::string* why) {
  std::string_view all(bytes);
  if (head.head_length < 4 || head.head_length > bytes.size() ||
      head.head_length > kMaxHeadBytes) {
    *why = "length out of range";
    return false;
  }
  std::string_view h = all.substr(0, head.head_length);
  if (h.substr(h.size() - 4) != "\r\n\r\n" ||
      h.find("\r\n\r\n") != h.size() - 4) {
    *why = "does not end at the first blank line";
    return false;
  }
  if (h.substr(0, 4) != "GET " && h.substr(0, 5) != "HEAD ") {
    *why = "not GET or HEAD";
    return false;
  }
  if (head.is_head != (h.substr(0, 5) == "HEAD ")) {
    *why = "is_head wrong";
    return false;
  }
  for (size_t i = 0; i < h.size(); i++) {
    unsigned char ch = static_cast<unsigned char>(h[i]);
    bool crlf = (ch == '\r' && i + 1 < h.size() && h[i + 1] == '\n') ||
                (ch == '\n' && i > 0 && h[i - 1] == '\r');
    if ((ch < 0x20 && ch != '\t' && !crlf) || ch >= 0x7f) {
      *why = "a control or non-ASCII byte";
      return false;
    }
  }
  return true;
}

void TestFuzzedHeads(uint64_t iterations) {
  const std::vector<std::string> seeds = {
      "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
      "HEAD /dir/ HTTP/1.0\r\nUser-Agent: x\r\n\r\n",
      "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\n"
      "Accept-Encoding: gzip, br\r\nConnection: close\r\n\r\nGET / "
      "HTTP/1.1\r\n\r\n",
  };
  const std::string alphabet = std::string("\r\n\t :/\"#%*-.GETHADPOS01") +
                               std::string(1, '\0') + "\x7f\xff\x80" + "a";
  std::mt19937_64 rng(0x51u);
  uint64_t plain = 0;
  uint64_t bad = 0;
  for (uint64_t n = 0; n < iterations; n++) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); e++) {
      size_t at = rng() % s.size();
      char ch = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
        case 0:
          s[at] = ch;
          break;
        case 1:
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), ch);
          break;
        case 2:
          s.erase(at, 1 + rng() % 3);
          break;
        default:
          s.resize(at);  // a head cut short, as read so far
          break;
      }
    }
    RequestHead head;
    if (Classify(s, &head) != HeadStatus::kPlain) continue;
    plain++;
    std::string why;
    if (!PlainInvariants(s, head, &why) && bad++ < 10) {
      Check(false, "fuzzed head \"" + Printable(s) + "\": " + why);
    }
  }
  Check(bad == 0, "every fuzzed head classified plain is plain");
  Check(plain > iterations / 100, "the fuzzer reaches plain heads");
  std::printf("  · %" PRIu64 " fuzzed heads, %" PRIu64 " plain\n", iterations,
              plain);
}

int OpenDevNull() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

std::shared_ptr<const Reply> MakeReply(bool with_file, size_t body = 10) {
  return std::make_shared<const Reply>(
      "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
      std::string(with_file ? 0 : body, 'x'), with_file ? OpenDevNull() : -1, 0,
      with_file ? body : 0, false, 1);
}

void TestReplyCache() {
  ReplyCache cache(8, 1 << 20, 3);
  for (int i = 0; i < 20; i++) {
    cache.Insert("file" + std::to_string(i), MakeReply(true), 1000, 0);
    Check(cache.files() <= 3, "file-backed entries bounded");
  }
  Check(cache.size() <= 8, "entries bounded");
  for (int i = 0; i < 20; i++) {
    cache.Insert("mem" + std::to_string(i), MakeReply(false), 1000, 0);
  }
  Check(cache.size() <= 8 && cache.files() <= 3, "both bounds hold");
  cache.DropExpired(1000);
  Check(cache.size() == 0 && cache.files() == 0 && cache.bytes() == 0,
        "expired entries dropped, their counts with them");

  cache.Insert("a", MakeReply(true), 500, 0);
  Check(cache.Find("a", 499) != nullptr, "a live entry is found");
  Check(cache.Find("a", 500) == nullptr && cache.size() == 0,
        "an expired entry is not found, and dropped");

  auto shared = MakeReply(true);
  cache.Insert("x", shared, 1000, 0);
  cache.Insert("y", shared, 1000, 0);
  cache.Insert("z", MakeReply(false), 1000, 0);
  cache.Forget(shared.get());
  Check(cache.Find("x", 1) == nullptr && cache.Find("y", 1) == nullptr &&
            cache.Find("z", 1) != nullptr,
        "Forget drops every entry holding that reply, only those");

  ReplyCache tiny(8, 100, 8);
  tiny.Insert("big", MakeReply(false, 1000), 1000, 0);
  Check(tiny.size() == 0, "a reply larger than the whole bound is not kept");
  ReplyCache none(8, 1 << 20, 0);
  none.Insert("f", MakeReply(true), 1000, 0);
  Check(none.size() == 0, "maxFiles 0 keeps no file-backed reply");
}

void TestDate() {
  char out[30];
  FormatImfDate(784111777, out);
  Check(std::string(out, 29) == "Sun, 06 Nov 1994 08:49:37 GMT",
        "IMF-fixdate of RFC 9110's example");
}

std::string LineFor(LogFormat format, const std::string& head, int status,
                    uint64_t bytes, const std::string& health = "",
                    int64_t now_ms = 784111777123) {
  // A heap copy of exactly the bytes, so ASan sees any read past them.
  std::vector<char> copy(head.begin(), head.end());
  LoggedReply reply;
  reply.remote = "127.0.0.1";
  reply.request_head = std::string_view(copy.data(), copy.size());
  reply.status = status;
  reply.body_bytes = bytes;
  reply.ms = 7;
  reply.now_ms = now_ms;  // by default Sun, 06 Nov 1994 08:49:37.123 GMT
  std::string out;
  if (!AppendAccessLine(format, health, reply, &out)) return "(none)";
  return out;
}

void TestAccessLines() {
  const std::string get =
      "GET /a?b=\"c\" HTTP/1.1\r\nHost: h\r\nuser-agent:  ua \"x\"\\ \r\n"
      "User-Agent: second\r\nReferer: http://r/\r\n\r\n";
  Check(LineFor(LogFormat::kCombined, get, 200, 13) ==
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a?b=\\x22c\\x22 "
            "HTTP/1.1\" 200 13 \"http://r/\" \"ua \\x22x\\x22\\x5c\"\n",
        "a combined line: escaped, first User-Agent, trimmed");
  Check(LineFor(LogFormat::kJson, get, 200, 13) ==
            "{\"time\":\"1994-11-06T08:49:37.123Z\",\"remote\":\"127.0.0.1\","
            "\"peer\":\"127.0.0.1\",\"method\":\"GET\",\"url\":\"/"
            "a?b=\\\"c\\\"\","
            "\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":13,\"ms\":7,"
            "\"referer\":\"http://r/\",\"agent\":\"ua \\\"x\\\"\\\\\"}\n",
        "a JSON line as JSON.stringify writes it");
  // The date of each second is made once: a later second must show.
  const std::string later =
      LineFor(LogFormat::kJson, get, 200, 13, "", 1764108301005);
  Check(
      later.find("\"time\":\"2025-11-25T22:05:01.005Z\"") != std::string::npos,
      "a later second's ISO time");
  Check(LineFor(LogFormat::kCombined, get, 200, 13, "", 1764108301999)
                .find("[25/Nov/2025:22:05:01 +0000]") != std::string::npos,
        "a later second's CLF time");
  const std::string head = "HEAD /x HTTP/1.0\r\n\r\n";
  Check(LineFor(LogFormat::kCombined, head, 200, 5) ==
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"HEAD /x HTTP/1.0\" "
            "200 - \"-\" \"-\"\n",
        "HEAD: no bytes, no fields");
  Check(
      LineFor(LogFormat::kJson, head, 304, 5)
              .find("\"bytes\":0,\"ms\":7,\"referer\":null,\"agent\":null}") !=
          std::string::npos,
      "JSON: null for absent fields, 0 bytes without a body");
  const std::string probe = "GET /healthz?x HTTP/1.1\r\n\r\n";
  Check(LineFor(LogFormat::kCombined, probe, 200, 2, "/healthz") == "(none)",
        "a health check is not logged");
  Check(LineFor(LogFormat::kCombined, "GET /healthzz HTTP/1.1\r\n\r\n", 404, 0,
                "/healthz") != "(none)",
        "a longer path is not the health path");
  Check(LineFor(LogFormat::kCombined, "POST / HTTP/1.1\r\n\r\n", 200, 0) ==
            "(none)",
        "not a GET/HEAD request line: no line");
}

// Any bytes as a head: no read past them (ASan), and a line is one line.
void TestFuzzedAccessLines(uint64_t iterations) {
  std::mt19937_64 rng(0x10au);
  const std::string seed =
      "GET /p?q HTTP/1.1\r\nUser-Agent: a\r\nReferer: b\r\n\r\n";
  uint64_t bad = 0;
  for (uint64_t n = 0; n < iterations; n++) {
    std::string s = seed;
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !s.empty(); e++) {
      size_t at = rng() % s.size();
      if (rng() % 3 == 0) {
        s.erase(at, 1 + rng() % 4);
      } else {
        s[at] = static_cast<char>(rng() % 256);
      }
    }
    for (LogFormat format : {LogFormat::kCombined, LogFormat::kJson}) {
      std::string line = LineFor(format, s, 200, 1);
      if (line == "(none)") continue;
      size_t newline = line.find('\n');
      if ((newline != line.size() - 1 ||
           line.find('\r') != std::string::npos) &&
          bad++ < 5) {
        Check(false, "one line for \"" + Printable(s) + "\"");
      }
    }
  }
  Check(bad == 0, "every fuzzed head's line is one line");
}
}  // namespace

int main(int argc, char** argv) {
  uint64_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 300000;
  TestKnownHeads();
  TestFuzzedHeads(iterations);
  TestReplyCache();
  TestDate();
  TestAccessLines();
  TestFuzzedAccessLines(iterations / 4);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
