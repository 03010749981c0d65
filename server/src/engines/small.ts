// Small bodies under `auto`: a file of at most the threshold is read once
// per version into memory (kept with the version: BodySource.bytes) and
// written through Node together with the head, in one writev. Below a few
// tens of KiB the syscalls, not the bytes, are the cost: a zero-copy send
// needs the head written first and the body sent after, two syscalls and a
// turn of the event loop; this needs one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFileSegment, type Body, type BodySource } from '../body';
import { readFully } from './read';
import type { Engine, SendDone } from './types';

/** Whether every byte of `body` can come from a memory copy of its source of at most `threshold` bytes. */
export function fitsInMemory(body: Body, threshold: number): body is Body & { source: BodySource } {
  const source = body.source;
  if (source === undefined || source.size > threshold) return false;
  for (const s of body.segments) if (isFileSegment(s) && s.fd !== source.fd) return false;
  return true;
}

function writeFrom(bytes: Buffer, res: ServerResponse, body: Body): void {
  for (const s of body.segments) {
    if (!isFileSegment(s)) res.write(s);
    else res.write(s.offset === 0 && s.length === bytes.length ? bytes : bytes.subarray(s.offset, s.offset + s.length));
  }
}

function send(_req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void {
  const source = body.source as BodySource;
  const cached = source.bytes;
  if (cached !== null) {
    // Written and reported in this same tick: the responder's res.end()
    // joins the head and these bytes in one corked writev.
    writeFrom(cached, res, body);
    return done(null, body.length);
  }
  const bytes = Buffer.allocUnsafe(source.size);
  readFully(source.fd, bytes, 0, (err) => {
    if (err) return done(err, 0);
    source.bytes = bytes;
    writeFrom(bytes, res, body);
    done(null, body.length);
  });
}

/** Writes bodies that fitsInMemory() accepted. */
export const smallBodyEngine: Engine = { name: 'copy', label: 'memory', send };
