// The copying engine: file bytes are read into user memory and written
// through Node's socket, as every Node static server does. It serves where
// zero-copy cannot (TLS, HTTP/2, no addon) and is the benchmark baseline.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFileSegment, type Body } from '../body';
import { SluiceError } from '../errors';
import { connectionGone, whenBodyMayStart } from './socket';
import type { Engine, SendDone } from './types';

/** Read size per chunk; Node's fs streams use the same. */
const CHUNK_SIZE = 64 * 1024;

export function truncatedError(): SluiceError {
  return new SluiceError('ERR_SLUICE_TRUNCATED', 'The file ended before the length promised in Content-Length');
}

export function abortedError(): SluiceError {
  return new SluiceError('ERR_SLUICE_ABORTED', 'The client connection closed before the body was sent');
}

function sendCopy(req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void {
  let index = 0;
  let done_in_segment = 0;
  let finished = false;

  const finish = (err: Error | null): void => {
    if (finished) return;
    finished = true;
    res.off('close', onClose);
    res.off('drain', pump);
    done(err);
  };
  const onClose = (): void => {
    if (connectionGone(req, res)) finish(abortedError());
  };

  const pump = (): void => {
    while (!finished) {
      if (connectionGone(req, res)) return finish(abortedError());
      const segment = body.segments[index];
      if (segment === undefined) return finish(null);
      if (!isFileSegment(segment)) {
        index++;
        if (!res.write(segment)) return void res.once('drain', pump);
        continue;
      }
      const left = segment.length - done_in_segment;
      if (left === 0) {
        index++;
        done_in_segment = 0;
        continue;
      }
      const size = Math.min(CHUNK_SIZE, left);
      const buffer = Buffer.allocUnsafe(size);
      fs.read(segment.fd, buffer, 0, size, segment.offset + done_in_segment, (err, bytes) => {
        if (finished) return;
        if (err) return finish(err);
        if (bytes === 0) return finish(truncatedError());
        done_in_segment += bytes;
        const more = res.write(bytes === size ? buffer : buffer.subarray(0, bytes));
        if (more) pump();
        else res.once('drain', pump);
      });
      return;
    }
  };

  whenBodyMayStart(req, res, (socket) => {
    if (!socket) return finish(abortedError());
    res.on('close', onClose);
    pump();
  });
}

export const copyEngine: Engine = { name: 'copy', send: sendCopy };
