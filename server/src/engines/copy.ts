// The copying engine: file bytes are read into user memory and written
// through Node's socket, as every Node static server does. It serves where
// zero-copy cannot (TLS, HTTP/2, no addon) and is the benchmark baseline.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFileSegment, type Body } from '../body';
import { SluiceError } from '../errors';
import { connectionGone, whenBodyMayStart } from './socket';
import type { Engine, SendDone } from './types';
import { watchTransfer } from './watchdog';

/** Read size per chunk; Node's fs streams use the same. */
const CHUNK_SIZE = 64 * 1024;

export function truncatedError(): SluiceError {
  return new SluiceError('ERR_SLUICE_TRUNCATED', 'The file ended before the length promised in Content-Length');
}

export function sendTimeoutError(ms: number): SluiceError {
  return new SluiceError('ERR_SLUICE_SEND_TIMEOUT', `The client read nothing for ${ms} ms`);
}

export function abortedError(): SluiceError {
  return new SluiceError('ERR_SLUICE_ABORTED', 'The client connection closed before the body was sent');
}

/** Bodies the copy engine has started, process-wide (for tests and stats). */
export const copyStats = { bodies: 0 };

function sendCopy(req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone, sendTimeout: number): void {
  copyStats.bodies++;
  let index = 0;
  let done_in_segment = 0;
  let written = 0;
  let finished = false;
  let unwatch = (): void => {};

  const finish = (err: Error | null): void => {
    if (finished) return;
    finished = true;
    unwatch();
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
        written += segment.length;
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
        written += bytes;
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
    // Bytes handed to Node stop growing when the client stops reading
    // (writes wait for 'drain'), which is what the timeout watches.
    unwatch = watchTransfer({ progress: () => written, onStall: () => finish(sendTimeoutError(sendTimeout)) }, sendTimeout);
    pump();
  });
}

/**
 * The copy engine. `sendTimeout` (ms, 0 = none) cuts off a client that
 * reads nothing for that long.
 */
export function createCopyEngine(sendTimeout: number): Engine {
  return { name: 'copy', send: (req, res, body, done) => sendCopy(req, res, body, done, sendTimeout) };
}

/** The copy engine without an idle-send timeout (HTTP/2 has its own). */
export const copyEngine: Engine = createCopyEngine(0);
