// Bodies for a response whose write() someone else has wrapped (Express's
// `compression`, response loggers, anything that transforms the body). The
// engines write around res.write (zero-copy goes straight to the socket;
// copy relies on write callbacks such wrappers may drop), so here the bytes
// go through res.write itself, as serve-static's streams do, with
// back-pressure from pipe(). Rare, so simple rather than fast.
import * as fs from 'node:fs';
import { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { isFileSegment, type Body } from './body';
import { SluiceError } from './errors';

/** Node's own write: anything else on a response means a wrapper. */
const NODE_WRITE = ServerResponse.prototype.write;

const CHUNK_SIZE = 64 * 1024;

export function isWriteWrapped(res: ServerResponse): boolean {
  return res.write !== NODE_WRITE;
}

function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buffer = Buffer.allocUnsafe(length);
    fs.read(fd, buffer, 0, length, position, (err, bytes) => {
      if (err) reject(err);
      else resolve(bytes === length ? buffer : buffer.subarray(0, bytes));
    });
  });
}

async function* chunksOf(body: Body): AsyncGenerator<Buffer> {
  for (const segment of body.segments) {
    if (!isFileSegment(segment)) {
      yield segment;
      continue;
    }
    let done = 0;
    while (done < segment.length) {
      const chunk = await readAt(segment.fd, Math.min(CHUNK_SIZE, segment.length - done), segment.offset + done);
      if (chunk.length === 0) throw new SluiceError('ERR_SLUICE_TRUNCATED', 'The file ended before the length promised in Content-Length');
      done += chunk.length;
      yield chunk;
    }
  }
}

/**
 * Writes `body` through res.write and calls `done` once: null when every
 * byte was handed to res (the caller ends it), else the error.
 */
export function pipeBody(res: ServerResponse, body: Body, done: (err: Error | null) => void): void {
  let finished = false;
  const finish = (err: Error | null): void => {
    if (finished) return;
    finished = true;
    res.off('close', onClose);
    done(err);
  };
  const stream = Readable.from(chunksOf(body), { objectMode: false });
  const onClose = (): void => {
    if (res.writableFinished) return;
    stream.destroy();
    finish(new SluiceError('ERR_SLUICE_ABORTED', 'The client connection closed before the body was sent'));
  };
  res.on('close', onClose);
  stream.once('error', (err: Error) => finish(err));
  stream.once('end', () => finish(null));
  stream.pipe(res, { end: false });
}
