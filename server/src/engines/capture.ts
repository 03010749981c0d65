// Replies recorded instead of sent, for the front door: a request replayed
// through Node's HTTP layer on a CaptureSocket gets its head and any
// generated body written into memory, and its file body described, not
// moved. The front door then sends exactly those bytes on the real
// connection, and may send them again for the same request head.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import { isFileSegment, type Body } from '../body';
import { notCapturableError } from '../errors';
import { readFully } from './read';
import { takeHead, type Endpoints } from './socket';
import type { Engine, SendDone } from './types';

/** A reply as the front door sends it: head, bytes from memory, then a file range. */
export interface CapturedReply {
  /** The head as Node wrote it (and, without a file, any generated body after it). */
  head: Buffer;
  /** Body bytes from memory (a small file read once per version). */
  inline: Buffer | null;
  /** A file range sent after the memory parts; fd -1 when none. */
  fd: number;
  offset: number;
  length: number;
  /** Until when (Date.now() ms) the file version behind it is trusted; 0 when none backs it. */
  trustedUntil: number;
  /** Takes that version out of its table (its file shrank while the reply was sent). */
  invalidate: () => void;
}

/** A fake connection carrying one replayed request into Node's HTTP server. */
export class CaptureSocket extends Duplex implements Endpoints {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly remoteFamily?: string;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** Everything Node wrote to this connection. */
  readonly written: Buffer[] = [];

  constructor(
    endpoints: Endpoints,
    /** Called by the capture engine with the file-backed reply, before the file version is let go. */
    readonly onBody: (reply: CapturedReply, res: ServerResponse) => void,
    /** Files up to this size go into the reply's memory part. */
    readonly smallMax: number,
  ) {
    super();
    Object.assign(this, endpoints);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written.push(chunk);
    cb();
  }

  // What Node's HTTP server may call on a net.Socket.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  destroySoon(): void {
    this.destroy();
  }
}

export function isCaptureSocket(socket: unknown): socket is CaptureSocket {
  return socket instanceof CaptureSocket;
}

/** The one file range `body` is, or null (several ranges, literal parts). */
function singleRange(body: Body): { fd: number; offset: number; length: number } | null {
  if (body.segments.length !== 1) return null;
  const s = body.segments[0];
  return isFileSegment(s) ? s : null;
}

function trustOf(body: Body): number {
  return body.source?.trustedUntil?.() ?? 0;
}

function invalidatorOf(body: Body): () => void {
  const source = body.source;
  return () => source?.invalidate?.();
}

/** Reads the whole of a small range into memory (from the version's bytes when it has them). */
function inlineBytes(body: Body, range: { fd: number; offset: number; length: number }, cb: (err: Error | null, bytes?: Buffer) => void): void {
  const cached = body.source?.bytes;
  if (cached && range.offset === 0 && range.length === cached.length) return cb(null, cached);
  const bytes = Buffer.allocUnsafe(range.length);
  readFully(range.fd, bytes, range.offset, (err) => cb(err ?? null, bytes));
}

function send(req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void {
  const socket = req.socket as unknown as CaptureSocket;
  const range = singleRange(body);
  const head = range === null ? null : takeHead(res);
  if (range === null || head === null) return done(notCapturableError(), 0);
  const reply: CapturedReply = {
    head,
    inline: null,
    fd: range.fd,
    offset: range.offset,
    length: range.length,
    trustedUntil: trustOf(body),
    invalidate: invalidatorOf(body),
  };
  if (range.length > socket.smallMax) {
    socket.onBody(reply, res);
    return done(null, body.length);
  }
  inlineBytes(body, range, (err, bytes) => {
    if (err) return done(err, 0);
    socket.onBody({ ...reply, inline: bytes ?? null, fd: -1, offset: 0, length: 0 }, res);
    done(null, body.length);
  });
}

/** The engine for responses on a CaptureSocket: describes the body to the front door, moves nothing. */
export const captureEngine: Engine = { name: 'copy', send };
