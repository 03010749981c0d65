// The io_uring engine: each chunk is a linked IORING_OP_SPLICE file→pipe→
// socket on one ring per event loop, a full socket waits with a linked
// POLL_ADD, and completions come back through the ring's eventfd. The
// handoff (head first, duplicate fd, cancel on close) is the one every
// native engine shares (native-transfer.ts).
import { errnoName } from '../errors';
import type { NativeBinding } from '../native';
import { toNativeSegments, zeroCopyEngine, type NativeEngineOptions } from './native-transfer';
import type { Engine } from './types';

/**
 * Why this process cannot run the io_uring engine, as "syscall: ERRNO"
 * ('io_uring_setup: EPERM' under Docker's default seccomp profile), or ''
 * when it can. Sets up and tears down a small ring: call it once.
 */
export function uringUnavailableReason(binding: NativeBinding): string {
  // An addon built before the io_uring engine existed has no probe.
  if (typeof binding.uringProbe !== 'function') return 'the native addon was built without io_uring';
  const { rc, syscall } = binding.uringProbe();
  return rc === 0 ? '' : `${syscall || 'io_uring_setup'}: ${errnoName(rc)}`;
}

export function uringEngine(binding: NativeBinding, opts: NativeEngineOptions): Engine {
  const { maxChunk } = opts;
  // Errors are reported as from splice: every failing CQE but a poll's is
  // one (EPIPE, ECONNRESET from the socket side).
  return zeroCopyEngine('io_uring', binding, 'splice', (fd, body, id, cb) => binding.uringSend(fd, toNativeSegments(body), maxChunk, id, cb), opts.sendTimeout);
}
