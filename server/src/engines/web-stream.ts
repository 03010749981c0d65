// A body as a Web ReadableStream of bytes (type 'bytes'), for any host that
// sends a fetch Response: the same segments the other engines send, read
// from the file straight into the reader's buffer (BYOB) or into chunks of
// CHUNK_SIZE, byte-exact; a file that ends early errors the stream, never
// shortens it. The bytes pass through user memory: a host that recognises
// sluice's Response (the fetch server) sends the segments zero-copy instead.
import * as fs from 'node:fs';
import { isFileSegment, type Body } from '../body';
import { bodyTakenError, truncatedError } from '../errors';
import { CHUNK_SIZE } from './read';
import type { SendDone } from './types';

/** Where a body's reader is: the segment, and how far into it. */
class Cursor {
  index = 0;
  inSegment = 0;
  sent = 0;
  private settled = false;

  constructor(
    readonly body: Body,
    private readonly done: SendDone,
  ) {}

  /** Calls `done` once: at the end, on an error or on cancel. */
  settle(err: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.done(err, this.sent);
  }

  advance(n: number): void {
    this.inSegment += n;
    this.sent += n;
  }
}

/** Copies the next bytes of a literal segment, or of a small file's bytes in memory, into `view`. */
function copyInto(from: Buffer, view: Uint8Array, cursor: Cursor): number {
  const n = Math.min(view.byteLength, from.length);
  view.set(from.subarray(0, n));
  cursor.advance(n);
  return n;
}

/** Fills `view` with the cursor's next bytes; resolves with how many (0 only at the end). */
function fill(cursor: Cursor, view: Uint8Array): Promise<number> {
  const { body } = cursor;
  for (;;) {
    const segment = body.segments[cursor.index];
    if (segment === undefined) return Promise.resolve(0);
    if (cursor.inSegment < segment.length) break;
    cursor.index++;
    cursor.inSegment = 0;
  }
  const segment = body.segments[cursor.index];
  if (!isFileSegment(segment)) return Promise.resolve(copyInto(segment.subarray(cursor.inSegment), view, cursor));
  const start = segment.offset + cursor.inSegment;
  const left = segment.length - cursor.inSegment;
  const bytes = body.source?.fd === segment.fd ? body.source.bytes : null;
  if (bytes !== null) return Promise.resolve(copyInto(bytes.subarray(start, start + left), view, cursor));
  return new Promise((resolve, reject) => {
    fs.read(segment.fd, view, 0, Math.min(view.byteLength, left), start, (err, n) => {
      if (err) return reject(err);
      if (n === 0) return reject(truncatedError());
      cursor.advance(n);
      resolve(n);
    });
  });
}

/**
 * A byte stream over `body`; `done(err, bytes)` is called once, when the
 * last byte has been read, on a read error, or when the reader cancels.
 * `start()` is told before the first read.
 */
export function webBodyStream(body: Body, done: SendDone, start?: () => boolean): ReadableStream<Uint8Array> {
  const cursor = new Cursor(body, done);
  let begun = false;
  return new ReadableStream({
    type: 'bytes',
    autoAllocateChunkSize: CHUNK_SIZE,
    async pull(controller): Promise<void> {
      if (!begun) {
        begun = true;
        if (start !== undefined && !start()) throw bodyTakenError();
      }
      const request = controller.byobRequest;
      if (request === null || request.view === null) return;
      const view = new Uint8Array(request.view.buffer, request.view.byteOffset, request.view.byteLength);
      try {
        const n = await fill(cursor, view);
        if (n === 0) {
          cursor.settle(null);
          controller.close();
          request.respond(0);
          return;
        }
        request.respond(n);
      } catch (err) {
        cursor.settle(err as Error);
        throw err;
      }
    },
    cancel(reason): void {
      cursor.settle(reason instanceof Error ? reason : new Error('The body stream was cancelled'));
    },
  });
}
