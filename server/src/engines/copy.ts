// The copying engine: file bytes are read into user memory and written
// through Node's socket, as every Node static server does. It serves where
// zero-copy cannot (TLS, HTTP/2, no addon) and is the benchmark baseline.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFileSegment, type Body } from '../body';
import { abortedError, sendTimeoutError } from '../errors';
import { readChunk } from './read';
import { connectionGone, isQueued, whenBodyMayStart } from './socket';
import type { Engine, SendDone } from './types';
import { watchTransfer } from './watchdog';

/** Bodies the copy engine has started, process-wide (for tests and stats). */
export const copyStats = { bodies: 0 };

/**
 * Writes a body through res.write, one chunk at a time, waiting for 'drain'
 * whenever res asks to. Shared by copy and by wrapped writes (piped.ts).
 */
export class BodyPump {
  /** Body bytes handed to res so far. */
  written = 0;
  private finished = false;
  private index = 0;
  private doneInSegment = 0;
  private readonly onClose = (): void => {
    if (this.isGone()) this.finish(abortedError());
  };

  constructor(
    protected readonly res: ServerResponse,
    private readonly body: Body,
    private readonly isGone: () => boolean,
    private readonly done: SendDone,
  ) {}

  start(): void {
    this.res.on('close', this.onClose);
    this.pump();
  }

  finish(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.res.off('close', this.onClose);
    this.stopWaiting();
    this.done(err, this.written);
  }

  /** Arranges for pump() to run again once res can take more (after a write returned false). */
  protected waitForDrain(): void {
    this.res.once('drain', this.pump);
  }

  /** Undoes waitForDrain() when the body ends early. */
  protected stopWaiting(): void {
    this.res.off('drain', this.pump);
  }

  protected readonly pump = (): void => {
    while (!this.finished) {
      if (this.isGone()) return this.finish(abortedError());
      const segment = this.body.segments[this.index];
      if (segment === undefined) return this.finish(null);
      if (!isFileSegment(segment)) {
        this.index++;
        if (!this.write(segment)) return;
        continue;
      }
      const left = segment.length - this.doneInSegment;
      if (left === 0) {
        this.index++;
        this.doneInSegment = 0;
        continue;
      }
      readChunk(segment.fd, segment.offset + this.doneInSegment, left, (err, chunk) => {
        if (this.finished) return;
        if (err) return this.finish(err);
        this.doneInSegment += chunk.length;
        if (this.write(chunk)) this.pump();
      });
      return;
    }
  };

  /** Writes `chunk`; false when the pump must wait for 'drain' (already arranged). */
  private write(chunk: Buffer): boolean {
    this.written += chunk.length;
    if (this.res.write(chunk)) return true;
    this.waitForDrain();
    return false;
  }
}

function sendCopy(req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone, sendTimeout: number): void {
  copyStats.bodies++;
  let unwatch = (): void => {};
  const pump = new BodyPump(
    res,
    body,
    () => connectionGone(req, res),
    (err, bytes) => {
      unwatch();
      done(err, bytes);
    },
  );
  const start = (): void => {
    // Bytes handed to Node stop growing when the client stops reading
    // (writes wait for 'drain'), which is what the timeout watches.
    unwatch = watchTransfer({ progress: () => pump.written, onStall: () => pump.finish(sendTimeoutError(sendTimeout)) }, sendTimeout);
    pump.start();
  };
  // Every byte goes through Node's stream, which keeps the order: a response
  // that owns its socket starts at once, and its head goes out with the first
  // chunk (one write; over TLS, no record of its own). One still queued
  // behind a pipelined response waits for its turn first.
  if (!isQueued(res)) return start();
  whenBodyMayStart(req, res, (socket) => (socket ? start() : pump.finish(abortedError())));
}

/**
 * The copy engine. `sendTimeout` (ms, 0 = none) cuts off a client that
 * reads nothing for that long.
 */
export function createCopyEngine(sendTimeout: number): Engine {
  return { name: 'copy', send: (req, res, body, done) => sendCopy(req, res, body, done, sendTimeout) };
}
