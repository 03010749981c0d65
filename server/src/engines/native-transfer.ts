// Zero-copy engines built on the addon's transfers: the head goes out
// through Node, then the addon moves the body from the page cache to the
// socket on a duplicate of its fd. zeroCopyEngine() is the part every native
// engine shares (handoff, cancel on close, outcome);
// nativeTransferEngine() drives the poll-driven movers (sendfile, splice),
// uring.ts the io_uring engine.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { isFileSegment, type Body } from '../body';
import { fallbacks } from '../counters';
import { addHolder, relieveShortage } from '../descriptors';
import { abortedError, errnoError, sendTimeoutError, truncatedError } from '../errors';
import type { NativeBinding, NativeSegment, TransferCallback } from '../native';
import { createCopyEngine } from './copy';
import { giveHeadBack, onSocketClose, pendingBytes, takeHead, whenBodyMayStart } from './socket';
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
/** Whether a transfer's status says descriptors ran out (the addon then sent nothing). */
function isOutOfDescriptors(status: number): boolean {
  return status === -constants.errno.EMFILE || status === -constants.errno.ENFILE;
}

let pipesHeld = false;

/** Lets the pool's idle pipes go when descriptors run short (once per process). */
function holdPipes(binding: NativeBinding): void {
  const trim = binding.pipePoolTrim;
  if (pipesHeld || typeof trim !== 'function') return;
  pipesHeld = true;
  addHolder({ held: () => 2 * binding.pipePoolStats().idle, relieve: () => 2 * trim.call(binding) });
}

/** What one native engine's transfers share. */
interface Mover {
  binding: NativeBinding;
  start: StartTransfer;
  sendTimeout: number;
  /** The error a final status stands for (null for DONE). */
  outcome(status: number): Error | null;
}

/**
 * Moves `body` on `socket`; its first `headLength` bytes are the head
 * (taken from Node), which the body byte count leaves out. `instead` runs,
 * in place of `done`, when descriptors ran out before any byte.
 */
function transfer(m: Mover, socket: Socket, fd: number, body: Body, headLength: number, done: SendDone, instead: () => void): void {
  const { binding, sendTimeout } = m;
  const id = nextId++;
  let stopWatching: (() => void) | null = null;
  let unwatch: (() => void) | null = null;
  let timedOut = false;
  const status = m.start(fd, body, id, (final, bytes) => {
    stopWatching?.();
    unwatch?.();
    done(timedOut ? sendTimeoutError(sendTimeout) : m.outcome(final), Math.max(0, bytes - headLength));
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
  if (isOutOfDescriptors(status)) return instead();
  // Finished within the call: all of it, or (rarely) an error whose count the call does not report.
  done(m.outcome(status), status === binding.DONE ? body.length - headLength : 0);
}

export function zeroCopyEngine(name: EngineName, binding: NativeBinding, syscall: string, start: StartTransfer, sendTimeout: number): Engine {
  holdPipes(binding);
  // Out of descriptors for a socket duplicate or a pipe, a body goes
  // through Node's own socket instead, which needs none.
  const copy = createCopyEngine(sendTimeout);
  const viaCopy = (req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void => {
    relieveShortage();
    fallbacks.descriptors++;
    copy.send(req, res, body, (err, bytes) => done(err, bytes, 'copy'), -1);
  };
  const outcome = (status: number): Error | null => {
    if (status === binding.DONE) return null;
    if (status === binding.EOF) return truncatedError();
    return errnoError(status, syscall);
  };
  const m: Mover = { binding, start, sendTimeout, outcome };

  /**
   * Waits until the head has left Node, then moves the body on `fd`, the
   * connection's: a socket that is not destroyed still holds the fd it had
   * when the response was classified.
   */
  const afterHead = (req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone, fd: number): void => {
    whenBodyMayStart(req, res, (socket) => {
      if (!socket || fd < 0) return done(abortedError(), 0);
      // Something was written after the head: wait for that too.
      if (pendingBytes(socket) > 0) return afterHead(req, res, body, done, fd);
      transfer(m, socket, fd, body, 0, done, () => viaCopy(req, res, body, done));
    });
  };

  const send = (req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone, fd: number): void => {
    // The common case: this response owns an idle socket, so its head and
    // body leave together from the addon. (A queued response has no socket
    // yet: takeHead() leaves its head to Node.)
    const head = fd >= 0 ? takeHead(res) : null;
    if (head !== null && res.socket) {
      const train: Body = { segments: [head, ...body.segments], length: head.length + body.length };
      return transfer(m, res.socket, fd, train, head.length, done, () => {
        giveHeadBack(res);
        viaCopy(req, res, body, done);
      });
    }
    afterHead(req, res, body, done, fd);
  };

  return { name, send };
}
