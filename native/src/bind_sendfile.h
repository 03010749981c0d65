#ifndef SLUICE_BIND_SENDFILE_H_
#define SLUICE_BIND_SENDFILE_H_

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

#endif  // SLUICE_BIND_SENDFILE_H_
