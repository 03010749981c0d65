// Zero-copy engines built on the addon's transfers: the head goes out
// through Node, then the addon moves the body from the page cache to the
// socket on a duplicate of its fd. zeroCopyEngine() is the part every native
// engine shares (handoff, fallback to copy, cancel on close, outcome);
// nativeTransferEngine() drives the poll-driven movers (sendfile, splice),
// uring.ts the io_uring engine.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isFileSegment, type Body } from '../body';
import { errnoError } from '../errors';
import type { NativeBinding, NativeSegment, TransferCallback } from '../native';
import { abortedError, createCopyEngine, sendTimeoutError, truncatedError } from './copy';
import { onSocketClose, pendingBytes, socketFd, takeHead, whenBodyMayStart } from './socket';
import type { Engine, EngineName, SendDone } from './types';
import { watchTransfer } from './watchdog';

/**
 * Transfer ids name pending transfers for cancel(); unique per process and
 * shared by every native engine (the addon keeps one id space).
 */
let nextId = 1;

export interface NativeEngineOptions {
  /** Bytes sent per wake-up before yielding to other connections. */
  maxChunk: number;
  /** A transfer that moves no byte for this long (ms) is cut off; 0 = never. */
  sendTimeout: number;
}

/**
 * Starts one native transfer of `body` on the socket `fd`: returns DONE, EOF
 * or -errno when it finished in the call, or PENDING and then calls `cb`
 * exactly once.
 */
export type StartTransfer = (fd: number, body: Body, id: number, cb: TransferCallback) => number;

/** The body as the addon takes it: Buffers and [fd, offset, count] triples. */
export function toNativeSegments(body: Body): NativeSegment[] {
  return body.segments.map((s) => (isFileSegment(s) ? [s.fd, s.offset, s.length] : s));
}

export function nativeTransferEngine(name: EngineName, binding: NativeBinding, mover: number, syscall: string, opts: NativeEngineOptions): Engine {
  const { maxChunk } = opts;
  const start: StartTransfer = (fd, body, id, cb) => {
    const only = body.segments.length === 1 ? body.segments[0] : undefined;
    if (only !== undefined && isFileSegment(only) && mover === binding.MOVER_SENDFILE) {
      return binding.sendfile(fd, only.fd, only.offset, only.length, maxChunk, id, cb);
    }
    return binding.sendSegments(mover, fd, toNativeSegments(body), maxChunk, id, cb);
  };
  return zeroCopyEngine(name, binding, syscall, start, opts.sendTimeout);
}

/**
 * An engine whose bodies the addon moves with `start`. Errors from the
 * addon are reported as if from `syscall`.
 */
export function zeroCopyEngine(name: EngineName, binding: NativeBinding, syscall: string, start: StartTransfer, sendTimeout: number): Engine {
  const copy = createCopyEngine(sendTimeout);
  const outcome = (status: number): Error | null => {
    if (status === binding.DONE) return null;
    if (status === binding.EOF) return truncatedError();
    return errnoError(status, syscall);
  };

  /** Moves `body` on `socket` (whose head, if any, is the first segment). */
  const transfer = (socket: Socket, fd: number, body: Body, done: SendDone): void => {
    const id = nextId++;
    let stopWatching: (() => void) | null = null;
    let unwatch: (() => void) | null = null;
    let timedOut = false;
    const status = start(fd, body, id, (final) => {
      stopWatching?.();
      unwatch?.();
      done(timedOut ? sendTimeoutError(sendTimeout) : outcome(final));
    });
    if (status === binding.PENDING) {
      // A closed connection cancels the transfer; the addon still calls
      // back once, after its duplicate fd is closed.
      stopWatching = onSocketClose(socket, () => binding.cancel(id));
      // So does a client that stops reading for sendTimeout ms.
      const progress = (): number => binding.transferProgress(id);
      unwatch = watchTransfer({ progress, onStall: () => (timedOut = binding.cancel(id)) }, sendTimeout);
      return;
    }
    done(outcome(status));
  };

  const send = (req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void => {
    // The common case: this response owns an idle socket, so its head and
    // body leave together from the addon.
    const idleFd = socketFd(res.socket);
    const head = idleFd >= 0 ? takeHead(res) : null;
    if (head !== null && res.socket) {
      return transfer(res.socket, idleFd, { segments: [head, ...body.segments], length: head.length + body.length }, done);
    }
    whenBodyMayStart(req, res, (socket) => {
      if (!socket) return done(abortedError());
      const fd = socketFd(socket);
      // TLS, HTTP/2 or bytes still queued in Node: only Node may write.
      if (fd < 0 || pendingBytes(socket) > 0) return copy.send(req, res, body, done);
      transfer(socket, fd, body, done);
    });
  };

  return { name, send };
}
