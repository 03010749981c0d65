// A fetch handler on a Node HTTP server: each request becomes a Web Request
// (its body streamed from the socket, never buffered; its signal aborted
// when the client goes), the handler's Response goes out as any fetch host
// writes one (status, fields with every Set-Cookie, the body streamed with
// back-pressure, the stream cancelled when the client goes), except that a
// Response file() made is sent from the file it was planned on, through
// sluice's engines (zero-copy on plain HTTP/1.1), without reading its stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { sendBody } from '../deliver';
import { isQueued, whenTurn, type Transports } from '../engines';
import { file, heldFileOf, type FileOptions } from './file';

/** What a fetch handler gets besides the Request. */
export interface FetchContext {
  /** file() for this request, with the server's root and file options: `path` is relative to root (or absolute inside it). */
  file(path: string, options?: FileOptions): Promise<Response>;
  /** The client's address, as the socket has it. */
  readonly remoteAddress: string | undefined;
}

/** A fetch-style handler: a Request in, a Response (or a promise of one) out. */
export type FetchHandler = (request: Request, context: FetchContext) => Response | Promise<Response>;

function abortError(): Error {
  return Object.assign(new Error('The client closed the connection'), { code: 'ECONNRESET', name: 'AbortError' });
}

/** The Web Request for a Node request: the body a stream over the socket, the signal aborted if the client goes first. */
export function webRequest(req: IncomingMessage, res: ServerResponse): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i][0] !== ':') headers.append(raw[i], raw[i + 1]);
  const target = req.url ?? '/';
  const host = headers.get('host') ?? 'localhost';
  const encrypted = (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
  const url = /^https?:\/\//i.test(target) ? target : `${encrypted ? 'https' : 'http'}://${host}${target}`;
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (hasBody) {
    init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return withClientSignal(new Request(url, init), res);
}

/**
 * Gives `request` a signal that aborts when the client goes before the
 * response has finished, made when first read: a signal passed to the
 * Request constructor costs more than the rest of the Request (undici
 * follows it through a WeakRef and a FinalizationRegistry).
 */
function withClientSignal(request: Request, res: ServerResponse): Request {
  let signal: AbortSignal | null = null;
  const make = (): AbortSignal => {
    const controller = new AbortController();
    const gone = (): void => {
      if (!res.writableFinished) controller.abort(abortError());
    };
    if (res.closed) gone();
    else res.once('close', gone);
    return controller.signal;
  };
  Object.defineProperty(request, 'signal', { configurable: true, enumerable: true, get: () => (signal ??= make()) });
  return request;
}

/**
 * Writes the Response's status and fields as the head of `res` (each
 * Set-Cookie its own field); `contentLength` replaces the Response's own.
 */
function writeFields(res: ServerResponse, response: Response, contentLength?: number): void {
  const fields: string[] = [];
  for (const [name, value] of response.headers) if (contentLength === undefined || name !== 'content-length') fields.push(name, value);
  if (contentLength !== undefined) fields.push('Content-Length', String(contentLength));
  if (response.statusText) res.writeHead(response.status, response.statusText, fields);
  else res.writeHead(response.status, fields);
}

/** Waits for 'drain', or for the response to close; resolves false if it closed. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Streams a Web body to `res` with its back-pressure; the client going cancels the stream. */
async function pipeBody(res: ServerResponse, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const onClose = (): void => {
    if (!res.writableFinished) reader.cancel(abortError()).catch(() => {});
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value) && !(await drained(res))) return;
    }
    if (!res.destroyed) res.end();
  } finally {
    res.off('close', onClose);
  }
}

/**
 * Sends a file() Response's held answer through the engines: the Response's
 * status and fields (the handler may have changed them; Content-Length is
 * the body's), then the segments. False when its stream was already read.
 */
function sendHeld(transports: Transports, req: IncomingMessage, res: ServerResponse, response: Response): boolean {
  const held = heldFileOf(response);
  if (held === null || response.bodyUsed || response.body?.locked === true) return false;
  const taken = held.take();
  if (taken === null) return false;
  const { body, version } = taken;
  writeFields(res, response, body.length);
  if (!isQueued(res)) {
    sendBody(transports, req, res, req.method === 'HEAD' ? null : body, version);
    return true;
  }
  // A pipelined response sends its body once it owns the socket; a
  // connection that closes first lets the version go.
  let started = false;
  res.once('close', () => {
    if (!started) version.release();
  });
  whenTurn(req, res, () => {
    started = true;
    sendBody(transports, req, res, req.method === 'HEAD' ? null : body, version);
  });
  return true;
}

/** Whether `value` is a Response (of this realm's fetch, or of another's with the same shape). */
function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true;
  const r = value as Response | null;
  return typeof r === 'object' && r !== null && typeof r.status === 'number' && typeof r.headers?.getSetCookie === 'function' && 'body' in r;
}

/** Writes the handler's Response on `res`. */
async function sendResponse(transports: Transports, req: IncomingMessage, res: ServerResponse, response: unknown): Promise<void> {
  if (!isResponse(response)) throw new TypeError(`The fetch handler must return a Response; it returned ${describe(response)}`);
  if (res.destroyed) {
    await response.body?.cancel(abortError()).catch(() => {});
    return;
  }
  if (sendHeld(transports, req, res, response)) return;
  writeFields(res, response);
  const body = response.body;
  if (body === null || req.method === 'HEAD') {
    if (body !== null) await body.cancel().catch(() => {});
    res.end();
    return;
  }
  await pipeBody(res, body);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

/** A handler's failure: logged with the request's method and target, then a 500, or the connection cut once a head went out. */
function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`sluice: the fetch handler failed for ${req.method ?? 'GET'} ${req.url ?? '/'}: ${detail}`);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const text = 'Internal Server Error\n';
  res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** What a fetch server passes to its handler's context.file(). */
export interface FileDefaults extends FileOptions {
  root: string;
}

/** The 'request' listener that answers every request with `handler`, sending file() bodies with `transports`. */
export function fetchListener(handler: FetchHandler, transports: Transports, defaults: FileDefaults): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let request: Request;
    try {
      request = webRequest(req, res);
    } catch {
      res.writeHead(400, { 'Content-Length': '0', Connection: 'close' });
      res.end();
      return;
    }
    const context: FetchContext = {
      file: (name, options) => file(request, name, { ...defaults, ...options }),
      remoteAddress: req.socket?.remoteAddress,
    };
    let answer: Response | Promise<Response>;
    try {
      answer = handler(request, context);
    } catch (err) {
      return fail(req, res, err);
    }
    Promise.resolve(answer)
      .then((response) => sendResponse(transports, req, res, response))
      .catch((err: unknown) => fail(req, res, err));
  };
}
