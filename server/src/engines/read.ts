// The one read loop of the engines that copy bytes through user memory
// (copy, small files, wrapped writes): fill a buffer from a file position,
// and a file that ends early is a truncation, never a short body.
import * as fs from 'node:fs';
import { truncatedError } from '../errors';

/** Bytes read per chunk by the copying engines; Node's fs streams use the same. */
export const CHUNK_SIZE = 64 * 1024;

/** Fills `buffer` from `fd` at `position`; calls back once, with an error if the file ended first. */
export function readFully(fd: number, buffer: Buffer, position: number, cb: (err: Error | null) => void): void {
  const readAt = (at: number): void => {
    if (at === buffer.length) return cb(null);
    fs.read(fd, buffer, at, buffer.length - at, position + at, (err, n) => {
      if (err) return cb(err);
      if (n === 0) return cb(truncatedError());
      readAt(at + n);
    });
  };
  readAt(0);
}

/** The next chunk of a file segment: up to CHUNK_SIZE bytes from `position`, `left` bytes remaining. */
export function readChunk(fd: number, position: number, left: number, cb: (err: Error | null, chunk: Buffer) => void): void {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, left));
  readFully(fd, chunk, position, (err) => cb(err, chunk));
}
