// file(request, path, options): one file as a fetch Response. The same
// responder as sendFile decides everything (resolve, open, symlink policy,
// precompressed siblings, preconditions, Range × If-Range, the head's
// fields); nothing is written: the planned answer is held and made into a
// Response whose body is a byte ReadableStream over the file version the
// plan was made from. The Response carries that answer under a private
// symbol, so sluice's fetch server can send the same segments zero-copy
// instead of reading the stream.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Body } from '../body';
import { webBodyStream } from '../engines/web-stream';
import { CODES } from '../errors';
import type { FileVersion } from '../file-table';
import type { HeaderTarget } from '../head';
import { HttpError } from '../http-error';
import type { Answer } from '../plan';
import type { Claimant } from '../responder';
import { errorDocument } from '../responses';
import { fileResponder, type SendFileOptions } from '../send-file';

/** file()'s options: sendFile's (root, maxAge, headers, etag, precompressed, ...). */
export type FileOptions = Omit<SendFileOptions, 'engine'>;

/** The answer a file() Response was made from, until its body is read or sent. */
export class HeldFile {
  private state: 'held' | 'streaming' | 'taken' | 'released' = 'held';

  constructor(
    readonly body: Body,
    readonly version: FileVersion,
  ) {}

  /** The body for a server to send itself (it then owns the version's reference); null once the stream has begun. */
  take(): { body: Body; version: FileVersion } | null {
    if (this.state !== 'held') return null;
    this.state = 'taken';
    return { body: this.body, version: this.version };
  }

  /** The stream's first read: false when a server took the body. */
  begin(): boolean {
    if (this.state !== 'held') return false;
    this.state = 'streaming';
    return true;
  }

  /** The stream is done with the version (read to the end, failed, cancelled or collected). */
  release(err: Error | null): void {
    if (this.state === 'taken' || this.state === 'released') return;
    this.state = 'released';
    if ((err as NodeJS.ErrnoException | null)?.code === CODES.truncated) this.version.invalidate();
    this.version.release();
  }
}

/** Where a file() Response keeps its held answer. */
export const kHeldFile: unique symbol = Symbol('sluice.heldFile');

/** A Response that file() made: its held answer, and the stream it was made with. */
type FileResponse = Response & { [kHeldFile]?: { held: HeldFile; stream: ReadableStream<Uint8Array> } };

/**
 * The held answer of a Response file() made, if it is one and its body is
 * still the stream file() gave it (a clone() replaces it with a branch of a
 * tee, which then must be read).
 */
export function heldFileOf(response: Response): HeldFile | null {
  const mark = (response as FileResponse)[kHeldFile];
  return mark !== undefined && response.body === mark.stream ? mark.held : null;
}

/** A Response dropped unread lets its file version go when it is collected. */
const unread = new FinalizationRegistry<HeldFile>((held) => held.release(null));

/** The head's fields as file() collects them before making the Response. */
class FieldBag implements HeaderTarget {
  statusCode = 200;
  private readonly fields = new Map<string, { name: string; value: number | string | readonly string[] }>();

  getHeaderNames(): string[] {
    return [...this.fields.keys()];
  }

  getHeaders(): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    for (const [key, { value }] of this.fields) out[key] = value as OutgoingHttpHeaders[string];
    return out;
  }

  setHeader(name: string, value: number | string | readonly string[]): void {
    this.fields.set(name.toLowerCase(), { name, value });
  }

  removeHeader(name: string): void {
    this.fields.delete(name.toLowerCase());
  }

  /** The fields as name-value pairs, what a Response's init takes (each value of a list its own pair). */
  toPairs(): [string, string][] {
    const pairs: [string, string][] = [];
    for (const { name, value } of this.fields.values()) {
      if (Array.isArray(value)) for (const v of value) pairs.push([name, String(v)]);
      else pairs.push([name, String(value)]);
    }
    return pairs;
  }
}

/** The request as the responder reads it: method, headers and the target (no socket: nothing is written). */
function detachedRequest(request: Request, target: string): IncomingMessage {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of request.headers) headers[name] = value;
  return { method: request.method, headers, url: target, httpVersionMajor: 1, httpVersionMinor: 1, socket: null } as unknown as IncomingMessage;
}

/** The response the responder checks (its turn on a socket, whether a head went out); the answer goes to the claim. */
function detachedResponse(): ServerResponse {
  return { socket: {}, writableEnded: false, headersSent: false, statusCode: 200 } as unknown as ServerResponse;
}

/** An error Response with sluice's error page (Content-Range on a 416, Retry-After when busy). */
function errorResponse(status: number, method: string, extra: Record<string, string> | undefined): Response {
  const { doc, fields } = errorDocument(status);
  return new Response(method === 'HEAD' ? null : doc, { status, headers: { ...fields, ...extra } });
}

/** The responder's side of one file(): it collects the fields, then resolves with the Response. */
class FetchClaim implements Claimant {
  readonly fields = new FieldBag();
  private settled = false;

  constructor(
    private readonly method: string,
    private readonly headers: FileOptions['headers'],
    private readonly resolve: (response: Response) => void,
  ) {}

  hijack(): void {}

  setHeaders(): void {
    const headers = this.headers;
    if (headers !== undefined) for (const name of Object.keys(headers)) this.fields.setHeader(name, headers[name]);
  }

  /** A directory without an index answers 404 (as sendFile's EISDIR). */
  directory(): boolean {
    this.refused(new HttpError(404));
    return true;
  }

  hold(answer: Answer, version: FileVersion): void {
    if (this.settled) return version.release();
    this.settled = true;
    this.resolve(fileResponse(this.fields, answer, version));
  }

  refused(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const status = err instanceof HttpError ? err.status : 500;
    this.resolve(errorResponse(status, this.method, err instanceof HttpError ? err.headers : undefined));
  }
}

/** The Response for a planned answer: a byte stream over the version, or no body (HEAD, 304, an empty file). */
function fileResponse(fields: FieldBag, answer: Answer, version: FileVersion): Response {
  const init = { status: answer.head.status, headers: fields.toPairs() };
  const body = answer.body;
  if (body === null) {
    version.release();
    return new Response(null, init);
  }
  const held = new HeldFile(body, version);
  const stream = webBodyStream(
    body,
    (err) => held.release(err),
    () => held.begin(),
  );
  unread.register(stream, held);
  const response = new Response(stream, init) as FileResponse;
  Object.defineProperty(response, kHeldFile, { value: { held, stream } });
  return response;
}

function checkFile(request: unknown, file: unknown, opts: FileOptions): string {
  if (
    typeof request !== 'object' ||
    request === null ||
    typeof (request as Request).method !== 'string' ||
    !((request as Request).headers instanceof Headers)
  ) {
    throw new TypeError('file() needs the Request being answered as its first argument');
  }
  if (typeof file !== 'string' || file === '') throw new TypeError('file() needs a path (a non-empty string)');
  if (!opts.root && !path.isAbsolute(file)) throw new TypeError('file() needs an absolute path, or a root to resolve it against');
  return file;
}

/**
 * One file as the answer to `request`, as a fetch Response: 200, 206 (one
 * range or multipart/byteranges), 304, 412 or 416 exactly as sluice's Node
 * servers decide, with their fields (ETag, Last-Modified, Cache-Control,
 * Vary, Content-Encoding for a precompressed sibling). Its body is a byte
 * ReadableStream over the file, which any fetch host can send; sluice's
 * fetch server sends it zero-copy. A missing file is a 404 Response (as
 * are directories without an index); `path` is absolute or relative to
 * `options.root`, which it may not leave.
 */
export function file(request: Request, file: string, options?: FileOptions | null): Promise<Response> {
  const opts = options ?? {};
  let name: string;
  try {
    name = checkFile(request, file, opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const found = fileResponder(name, opts);
  if (found === null) return Promise.resolve(errorResponse(400, request.method, undefined));
  const { responder, target } = found;
  return new Promise((resolve) => {
    const claim = new FetchClaim(request.method, opts.headers, resolve);
    const req = detachedRequest(request, target);
    responder.serve(req, detachedResponse(), (err) => claim.refused(err ?? new HttpError(404)), target, target, claim);
  });
}
