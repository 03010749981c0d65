// Bodies for a response whose write() someone else has wrapped (Express's
// `compression`, response loggers, anything that transforms the body). The
// other engines write around res.write (zero-copy goes straight to the
// socket; copy first waits for a write callback, which such wrappers may
// drop), so here the bytes go through res.write itself from the start, as
// serve-static's streams do, with back-pressure wherever a 'drain' will come.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerResponse as NodeServerResponse } from 'node:http';
import type { Body } from '../body';
import { BodyPump } from './copy';
import type { Engine, SendDone } from './types';

/** Node's own write: anything else on a response means a wrapper. */
const NODE_WRITE = NodeServerResponse.prototype.write;

export function isWriteWrapped(res: ServerResponse): boolean {
  return res.write !== NODE_WRITE;
}

/** Node's own `on`: a wrapper that replaces it can route 'drain' listeners. */
const NODE_ON = NodeServerResponse.prototype.on;
/** Pauses for a wrapper whose back-pressure sends no 'drain': 1 ms, doubling up to this. */
const PACE_MAX_MS = 8;

/**
 * Whether a 'drain' will follow a res.write() that returned false. Node
 * emits one on res only once its own buffer is past its high-water mark. A
 * wrapper's false may instead mean its own buffer (its gzip stream's) is
 * full, and a 'drain' for that comes only if the wrapper routes res's
 * 'drain' listeners there, as `compression` does by replacing res.on. For
 * any other wrapper, waiting for 'drain' never ends. Node 20 hid this for
 * incompressible bodies (each 16 KiB of gzip output crossed Node's own
 * 16 KiB mark and brought a 'drain' anyway); Node 22 raised the default
 * mark to 64 KiB, and such a response stalled after its first chunk.
 */
function drainFollows(res: ServerResponse): boolean {
  return res.writableNeedDrain || res.on !== NODE_ON;
}

/** Whether `res` can no longer take bytes: closed before everything was handed to it. */
function isClosedEarly(res: ServerResponse): boolean {
  return res.destroyed && !res.writableFinished;
}

/**
 * The pump for wrapped writes: after a false it waits for 'drain' where one
 * will follow, and otherwise goes on after a pause that grows while none
 * comes, so the wrapper is neither stalled nor handed the whole file at once.
 */
class PacedPump extends BodyPump {
  private waiting = false;
  private listening = false;
  private pace = 1;
  private timer: NodeJS.Timeout | undefined;
  private readonly resume = (): void => {
    clearTimeout(this.timer);
    if (!this.waiting) return;
    this.waiting = false;
    this.pump();
  };
  private readonly onDrain = (): void => {
    this.pace = 1;
    this.resume();
  };

  protected override waitForDrain(): void {
    this.waiting = true;
    // One listener for the whole body: with `compression` it lands on the
    // gzip stream, where res.off() cannot reach it to remove it again.
    if (!this.listening) this.res.on('drain', this.onDrain);
    this.listening = true;
    if (drainFollows(this.res)) return;
    this.timer = setTimeout(this.resume, this.pace);
    this.pace = Math.min(this.pace * 2, PACE_MAX_MS);
  }

  protected override stopWaiting(): void {
    this.waiting = false;
    clearTimeout(this.timer);
    if (this.listening) this.res.off('drain', this.onDrain);
  }
}

export const pipedEngine: Engine = {
  name: 'copy',
  label: 'piped',
  send(_req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void {
    new PacedPump(res, body, () => isClosedEarly(res), done).start();
  },
};
