// A body as a Readable stream, for a framework that must see the payload
// before it reaches the socket (Fastify's onSend hooks, @fastify/compress):
// the same segments the other engines send, read in chunks (or taken from
// a small file's bytes in memory), byte-exact, with the stream's own
// back-pressure. The bytes pass through user memory here: this is the
// copying path, chosen only when something may replace the payload.
import { Readable } from 'node:stream';
import { isFileSegment, type Body } from '../body';
import { readChunk } from './read';
import type { SendDone } from './types';

class BodyStream extends Readable {
  private index = 0;
  private doneInSegment = 0;
  private pushed = 0;
  private reading = false;
  private finished = false;

  constructor(
    private readonly body: Body,
    private readonly done: SendDone,
  ) {
    super();
  }

  override _read(): void {
    if (this.reading) return;
    const segment = this.body.segments[this.index];
    if (segment === undefined) {
      this.push(null);
      return;
    }
    if (!isFileSegment(segment)) return this.forward(segment, true);
    const left = segment.length - this.doneInSegment;
    if (left === 0) {
      this.index++;
      this.doneInSegment = 0;
      return this._read();
    }
    const bytes = this.body.source?.fd === segment.fd ? this.body.source.bytes : null;
    if (bytes !== null) {
      const start = segment.offset + this.doneInSegment;
      this.doneInSegment = segment.length;
      return this.forward(bytes.subarray(start, segment.offset + segment.length), false);
    }
    this.reading = true;
    readChunk(segment.fd, segment.offset + this.doneInSegment, left, (err, chunk) => {
      this.reading = false;
      if (this.destroyed) return;
      if (err) return void this.destroy(err);
      this.doneInSegment += chunk.length;
      this.forward(chunk, false);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.settle(err ?? (this.readableEnded ? null : new Error('The body stream was closed before its end')));
    cb(err);
  }

  /** Pushes `chunk`; `whole`: it is a whole segment (a multipart boundary). */
  private forward(chunk: Buffer, whole: boolean): void {
    if (whole) this.index++;
    this.pushed += chunk.length;
    // Readable calls _read again while it wants more.
    this.push(chunk);
  }

  private settle(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    // The file's fd is held until the stream is done with it, whichever way.
    this.done(err, this.pushed);
  }
}

/**
 * A Readable of `body`'s bytes. `done` runs exactly once, when the stream
 * is destroyed (it destroys itself after its end): with null if every byte
 * was read, else with why not. Until then the body's fds must stay open.
 */
export function bodyStream(body: Body, done: SendDone): Readable {
  return new BodyStream(body, done);
}
