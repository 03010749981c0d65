#include "core/pump.h"

#include "core/write.h"

namespace sluice {
namespace core {

int Pump(int out_fd, std::vector<Segment>* segments, Cursor* cursor,
         FileMover* mover, uint64_t budget) {
  uint64_t spent = 0;
  while (cursor->index < segments->size()) {
    Segment& seg = (*segments)[cursor->index];
    uint64_t left = seg.length - cursor->done_in_segment;
    if (left == 0) {
      cursor->index++;
      cursor->done_in_segment = 0;
      continue;
    }
    if (spent >= budget) return kYield;
    uint64_t want = left < budget - spent ? left : budget - spent;
    Progress p;
    if (seg.file_fd >= 0) {
      int64_t offset =
          seg.offset + static_cast<int64_t>(cursor->done_in_segment);
      p = mover->Move(out_fd, seg.file_fd, &offset, want);
    } else {
      const uint8_t* data = reinterpret_cast<const uint8_t*>(seg.bytes.data()) +
                            cursor->done_in_segment;
      // A literal followed by more of the body (a response head, a part
      // header) goes out with MSG_MORE, in one segment with what follows.
      bool more = cursor->index + 1 < segments->size();
      p = WriteSome(out_fd, data, want, more);
    }
    cursor->done_in_segment += p.bytes;
    cursor->total += p.bytes;
    spent += p.bytes;
    if (p.status != kDone) return p.status;
  }
  return kDone;
}

}  // namespace core
}  // namespace sluice
