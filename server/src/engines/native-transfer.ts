// Zero-copy engines built on the addon's poll-driven transfers (sendfile,
// splice): the head goes out through Node, then the addon moves the body
// from the page cache to the socket on a duplicate of its fd.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFileSegment, type Body } from '../body';
import { errnoError } from '../errors';
import type { NativeBinding, NativeSegment } from '../native';
import { abortedError, copyEngine, truncatedError } from './copy';
import { onSocketClose, pendingBytes, socketFd, whenBodyMayStart } from './socket';
import type { Engine, EngineName, SendDone } from './types';

/** Transfer ids name pending transfers for cancel(); unique per process. */
let nextId = 1;

export interface NativeEngineOptions {
  /** Bytes sent per wake-up before yielding to other connections. */
  maxChunk: number;
}

export function nativeTransferEngine(name: EngineName, binding: NativeBinding, mover: number, syscall: string, opts: NativeEngineOptions): Engine {
  const { maxChunk } = opts;

  const outcome = (status: number): Error | null => {
    if (status === binding.DONE) return null;
    if (status === binding.EOF) return truncatedError();
    return errnoError(status, syscall);
  };

  const start = (fd: number, body: Body, id: number, cb: (status: number) => void): number => {
    const only = body.segments.length === 1 ? body.segments[0] : undefined;
    if (only !== undefined && isFileSegment(only) && mover === binding.MOVER_SENDFILE) {
      return binding.sendfile(fd, only.fd, only.offset, only.length, maxChunk, id, cb);
    }
    const segments: NativeSegment[] = body.segments.map((s) => (isFileSegment(s) ? [s.fd, s.offset, s.length] : s));
    return binding.sendSegments(mover, fd, segments, maxChunk, id, cb);
  };

  const send = (req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void => {
    whenBodyMayStart(req, res, (socket) => {
      if (!socket) return done(abortedError());
      const fd = socketFd(socket);
      // TLS, HTTP/2 or bytes still queued in Node: only Node may write.
      if (fd < 0 || pendingBytes(socket) > 0) return copyEngine.send(req, res, body, done);
      const id = nextId++;
      let stopWatching: (() => void) | null = null;
      const status = start(fd, body, id, (final) => {
        stopWatching?.();
        done(outcome(final));
      });
      if (status === binding.PENDING) {
        // A closed connection cancels the transfer; the addon still calls
        // back once, after its duplicate fd is closed.
        stopWatching = onSocketClose(socket, () => binding.cancel(id));
        return;
      }
      done(outcome(status));
    });
  };

  return { name, send };
}
