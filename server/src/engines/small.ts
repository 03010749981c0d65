// Small bodies under `auto`: a file of at most `threshold` bytes is read
// once per version into memory (kept in the open-file table's per-version
// map) and written through Node together with the head, in one writev.
// Below a few tens of KiB the syscalls, not the bytes, are the cost: a
// zero-copy send needs the head written first and the body sent after, two
// syscalls and a turn of the event loop; this needs one.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFileSegment, type Body, type BodySource } from '../body';
import { truncatedError } from './copy';
import type { Engine, SendDone } from './types';

const BYTES = 'sluice:bytes';

/** Whether every byte of `body` can come from its source's memory copy. */
function fitsInMemory(body: Body, threshold: number): body is Body & { source: BodySource } {
  const source = body.source;
  if (source === undefined || source.size > threshold) return false;
  for (const s of body.segments) if (isFileSegment(s) && s.fd !== source.fd) return false;
  return true;
}

function readWhole(source: BodySource, cb: (err: Error | null, bytes?: Buffer) => void): void {
  const buffer = Buffer.allocUnsafe(source.size);
  const readFrom = (at: number): void => {
    if (at === source.size) {
      source.derived.set(BYTES, buffer);
      return cb(null, buffer);
    }
    fs.read(source.fd, buffer, at, source.size - at, at, (err, n) => {
      if (err) return cb(err);
      if (n === 0) return cb(truncatedError());
      readFrom(at + n);
    });
  };
  readFrom(0);
}

function writeFrom(bytes: Buffer, res: ServerResponse, body: Body): void {
  for (const s of body.segments) {
    if (!isFileSegment(s)) res.write(s);
    else res.write(s.offset === 0 && s.length === bytes.length ? bytes : bytes.subarray(s.offset, s.offset + s.length));
  }
}

export function smallBodyEngine(inner: Engine, threshold: number): Engine {
  const send = (req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void => {
    if (!fitsInMemory(body, threshold)) return inner.send(req, res, body, done);
    const cached = body.source.derived.get(BYTES) as Buffer | undefined;
    if (cached) {
      // Written and reported in this same tick: the responder's res.end()
      // joins the head and these bytes in one corked writev.
      writeFrom(cached, res, body);
      return done(null);
    }
    readWhole(body.source, (err, bytes) => {
      if (err || !bytes) return done(err ?? truncatedError());
      writeFrom(bytes, res, body);
      done(null);
    });
  };
  return { name: inner.name, send };
}
