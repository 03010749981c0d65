// HTTP/2 answers on Node's core API. Node's compatibility layer builds an
// Http2ServerRequest and an Http2ServerResponse for every stream, with their
// listeners and header bookkeeping, then sends HEADERS, DATA and an empty
// trailing frame: at 1 KiB that was a fifth of the server's CPU a request.
// Here the server's 'stream' dispatch is taken over: a GET or HEAD stream is
// given to the handler as a StreamRequest and a StreamResponse, and a
// planned file answer (one writeHead with the head as a list, the body's
// writes, end) goes out as stream.respond() and stream.end(body). Anything
// else the handler does first (setHeader, statusCode, a head not given as a
// list) makes the response Node's own Http2ServerResponse, built there, which
// takes every call from then on: refusals, redirects and listings are Node's
// compatibility layer exactly as before. Every other stream (other methods,
// CONNECT, Expect) goes to Node's compatibility listener as it is.
//
// A 'request' listener that is not marked frontDoorAware turns this off for
// the server: it was promised every request.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import { isAware } from './front-door';

type Listener = (...args: unknown[]) => void;
type Fields = readonly string[];
type H2Headers = http2.OutgoingHttpHeaders;

const NO_NAMES: string[] = [];
const noop = (): void => {};

/** The request side: what sluice's handler reads of a request (Node's compatibility request has the same values). */
export class StreamRequest {
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly httpVersion = '2.0';
  /** When the stream arrived (ms since the epoch). */
  readonly startedAt = Date.now();
  /** The client's address, kept when the stream arrived while answers are reported. */
  remoteAddress: string | undefined = undefined;
  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    readonly rawHeaders: string[],
  ) {}

  get method(): string {
    return this.headers[':method'] as string;
  }

  get url(): string {
    return this.headers[':path'] as string;
  }

  get socket(): Socket | undefined {
    return this.stream.session?.socket as Socket | undefined;
  }

  on(event: string, listener: Listener): this {
    this.stream.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this.stream.once(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.stream.off(event, listener);
    return this;
  }
}

/** The h2 head for a head list, made once per list (lists are kept with file versions). */
const HEADS = new WeakMap<Fields, H2Headers | null>();

/** `fields` ([name, value, …]) as an h2 head with `status`; null where Node's compatibility layer would treat a field specially. */
function h2Head(status: number, fields: Fields): H2Headers | null {
  let head = HEADS.get(fields);
  if (head === undefined) {
    head = buildHead(fields);
    HEADS.set(fields, head);
  }
  if (head === null) return null;
  return head[':status'] === status ? head : { ...head, ':status': status };
}

function buildHead(fields: Fields): H2Headers | null {
  const head: H2Headers = { ':status': 200 };
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    const value = fields[i + 1];
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      return null;
    }
    // Node drops a Connection field (HTTP/2 has none) with a warning.
    if (name === 'connection') return null;
    const had = head[name];
    head[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [String(had)]), value];
  }
  return head;
}

/**
 * The response side. Until its head is written it answers reads as a fresh
 * response would; writeHead(status, list) keeps the head, and the first
 * write or end sends it with stream.respond(). Any other change before the
 * head hands the response to Node's Http2ServerResponse.
 */
export class StreamResponse {
  private compat: http2.Http2ServerResponse | null = null;
  private head: H2Headers | null = null;
  private status = 200;
  /** A first body chunk held back so that the last one can end the stream. */
  private pending: Buffer | null = null;
  private started = false;
  private ended = false;

  constructor(
    readonly req: StreamRequest,
    readonly stream: http2.ServerHttp2Stream,
  ) {}

  /** Node's compatibility response, from here on the one that answers. */
  private toCompat(): http2.Http2ServerResponse {
    if (this.compat === null) {
      const { stream, headers, rawHeaders } = this.req;
      // The request goes first: the response takes it from the stream (res.req).
      const request = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
      this.compat = new http2.Http2ServerResponse(stream);
      if (this.compat.req !== request) this.compat.destroy(new Error('Node did not link the compatibility request and response'));
    }
    return this.compat;
  }

  /** Whether Node's compatibility response took over (before the head). */
  get handedOver(): boolean {
    return this.compat !== null;
  }

  get statusCode(): number {
    return this.compat !== null ? this.compat.statusCode : this.status;
  }

  set statusCode(code: number) {
    this.toCompat().statusCode = code;
  }

  get headersSent(): boolean {
    return this.compat !== null ? this.compat.headersSent : this.head !== null || this.stream.headersSent;
  }

  get writableEnded(): boolean {
    return this.compat !== null ? this.compat.writableEnded : this.ended;
  }

  get writableFinished(): boolean {
    return this.compat !== null ? this.compat.writableFinished : this.stream.writableFinished;
  }

  get socket(): Socket | http2.ServerHttp2Stream {
    return this.req.socket ?? this.stream;
  }

  getHeaderNames(): string[] {
    return this.compat !== null ? this.compat.getHeaderNames() : NO_NAMES;
  }

  getHeaders(): http.OutgoingHttpHeaders {
    return this.compat !== null ? this.compat.getHeaders() : {};
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.compat?.getHeader(name);
  }

  hasHeader(name: string): boolean {
    return this.compat !== null && this.compat.hasHeader(name);
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    this.toCompat().setHeader(name, value);
    return this;
  }

  appendHeader(name: string, value: string | readonly string[]): this {
    this.toCompat().appendHeader(name, value as string | string[]);
    return this;
  }

  removeHeader(name: string): void {
    this.toCompat().removeHeader(name);
  }

  writeHead(status: number, fields?: unknown): this {
    const head = this.compat === null && this.head === null && Array.isArray(fields) ? h2Head(status, fields as Fields) : null;
    if (head === null) {
      this.toCompat().writeHead(status, fields as http.OutgoingHttpHeaders);
      return this;
    }
    this.head = head;
    this.status = status;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.compat !== null || this.head === null) return this.toCompat().write(chunk);
    if (this.ended || this.stream.destroyed || this.stream.closed) return false;
    if (!this.started && this.pending === null) {
      this.pending = chunk;
      return true;
    }
    this.start();
    return this.stream.write(chunk);
  }

  end(chunk?: Buffer | string): this {
    if (this.compat !== null || this.head === null) {
      const compat = this.toCompat();
      if (chunk === undefined) compat.end();
      else compat.end(chunk);
      return this;
    }
    if (chunk !== undefined) this.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (this.ended) return this;
    this.ended = true;
    if (this.stream.destroyed || this.stream.closed) return this;
    if (this.started) {
      this.stream.end();
    } else if (this.pending !== null) {
      // HEADERS, then one DATA frame that ends the stream.
      this.started = true;
      this.stream.respond(this.head, { endStream: false });
      this.stream.end(this.pending);
      this.pending = null;
    } else {
      // No body (HEAD, 304, an empty file): HEADERS ends the stream.
      this.started = true;
      this.stream.respond(this.head, { endStream: true });
    }
    return this;
  }

  /** Sends the head and the chunk held back. */
  private start(): void {
    if (this.started) return;
    this.started = true;
    this.stream.respond(this.head as H2Headers, { endStream: false });
    if (this.pending !== null) this.stream.write(this.pending);
    this.pending = null;
  }

  destroy(err?: Error): void {
    if (this.compat !== null) this.compat.destroy(err);
    else this.stream.destroy(err);
  }

  on(event: string, listener: Listener): this {
    if (this.compat !== null) this.compat.on(event, listener);
    else this.stream.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    if (this.compat !== null) this.compat.once(event, listener);
    else this.stream.once(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    // A listener added before the hand-over is on the stream.
    this.stream.off(event, listener);
    this.compat?.off(event, listener);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener);
  }
}

/** Whether `res` is a StreamResponse (its head can go as one list). */
export function isStreamResponse(res: unknown): res is StreamResponse {
  return res instanceof StreamResponse;
}

/** Whether `res`'s head went or goes out on the core API (false once Node's compatibility response took over). */
export function answeredOnStream(res: unknown): boolean {
  return res instanceof StreamResponse && !res.handedOver;
}

export interface StreamAnswering {
  /** Answers one request (sluice's handler). */
  respond(req: StreamRequest, res: StreamResponse): void;
  /** Whether anyone wants to hear of each answered stream when it closes. */
  reporting(): boolean;
  /** Told when an answered stream has closed. */
  closed(req: StreamRequest, res: StreamResponse): void;
}

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

/**
 * Takes over `server`'s 'stream' dispatch (Node's compatibility listener,
 * installed by its first 'request' listener, stays the answer for every
 * stream this does not take). Returns false, changing nothing, when the
 * server's listeners are not the ones this expects.
 */
export function answerOnStreams(server: http2.Http2SecureServer, answering: StreamAnswering): boolean {
  const listeners = server.listeners('stream') as StreamListener[];
  if (listeners.length !== 1) return false;
  const compat = listeners[0];
  let on = server.listeners('request').every(isAware);
  server.on('newListener', (event: string | symbol, listener: unknown) => {
    if (event === 'request' && !isAware(listener)) on = false;
  });
  server.removeListener('stream', compat);
  const dispatch: StreamListener = (stream, headers, flags, rawHeaders) => {
    const method = headers[':method'];
    if (!on || (method !== 'GET' && method !== 'HEAD') || headers.expect !== undefined) return compat(stream, headers, flags, rawHeaders);
    // Node's compatibility layer swallows stream errors (the stream is destroyed either way).
    stream.on('error', noop);
    const req = new StreamRequest(stream, headers, rawHeaders);
    const res = new StreamResponse(req, stream);
    if (answering.reporting()) {
      req.remoteAddress = req.socket?.remoteAddress;
      stream.once('close', () => answering.closed(req, res));
    }
    answering.respond(req, res);
  };
  server.on('stream', dispatch);
  return true;
}
