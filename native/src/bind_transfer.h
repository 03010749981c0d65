// The transfer functions every poll-driven engine shares: start a body
// (sendfile, sendSegments with a mover), and cancel, progress and count for
// pending transfers of any native engine, io_uring included.
#ifndef SLUICE_BIND_TRANSFER_H_
#define SLUICE_BIND_TRANSFER_H_

#include <napi.h>

namespace sluice {

// Which FileMover moves file bytes (the `mover` argument of sendSegments).
constexpr int kMoverSendfile = 0;
constexpr int kMoverSplice = 1;

Napi::Value SendfileFile(const Napi::CallbackInfo& info);
Napi::Value SendSegments(const Napi::CallbackInfo& info);
Napi::Value CancelTransfer(const Napi::CallbackInfo& info);
Napi::Value TransferProgress(const Napi::CallbackInfo& info);
Napi::Value PendingTransfers(const Napi::CallbackInfo& info);

}  // namespace sluice

#endif  // SLUICE_BIND_TRANSFER_H_
