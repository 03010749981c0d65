// sendFile(req, res, path, options): one file for a route (an Express
// handler, a plain http handler), the zero-copy twin of Express's
// res.sendFile. The same responder as everything else answers; what Express
// hands to next(err) (a missing file, a 412, a 416, a directory) comes back
// as the error of the callback or the promise, with send's `status`, and
// nothing is written for it.
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { EngineName } from './engines';
import { HttpError } from './http-error';
import type { ContentCoding } from './negotiate';
import type { SluiceOptions, SymlinkPolicy } from './options';
import type { Claimant, Responder } from './responder';
import type { DotfilePolicy } from './resolve';
import { ResponderCache } from './setup';

export interface SendFileOptions {
  /** Directory `path` is relative to; without it `path` must be absolute. */
  root?: string;
  /** Cache-Control max-age in ms, or as '1d', '2h' (default 0). */
  maxAge?: number | string;
  /** Headers to set on the response when the file is found (they take precedence over sluice's). */
  headers?: Record<string, number | string | readonly string[]>;
  /** 'ignore' (default: 404), 'deny' (403) or 'allow'. */
  dotfiles?: DotfilePolicy;
  acceptRanges?: boolean;
  cacheControl?: boolean;
  immutable?: boolean;
  lastModified?: boolean;
  etag?: boolean;
  /** Served for a path ending in '/' (default 'index.html'); false for none. */
  index?: string[] | string | false;
  /** Extensions tried when `path` has none and is not found. */
  extensions?: string[] | string | false;
  /** Serve `x.br` / `x.zst` / `x.gz` siblings to clients that accept them (default false, as Express). */
  precompressed?: boolean | ContentCoding[];
  symlinks?: SymlinkPolicy;
  engine?: EngineName | 'auto';
}

export type SendFileCallback = (err?: Error) => void;

const responders = new ResponderCache({ fallthrough: false, slashless: 'not-found', anyMethod: true });

/** Express's checks, with its messages (thrown: a bad call is a bug in the caller). */
function checkPath(file: unknown, opts: SendFileOptions): string {
  if (!file) throw new TypeError('path argument is required to sendFile');
  if (typeof file !== 'string') throw new TypeError('path must be a string to sendFile');
  if (!opts.root && !path.isAbsolute(file)) throw new TypeError('path must be absolute or specify root to sendFile');
  return file;
}

/** A file-system path as a request target the resolver decodes back to it ('?' and '#' included). */
export function targetFor(file: string): string | null {
  try {
    const encoded = encodeURI(file).replace(/[?#]/g, encodeURIComponent);
    return encoded.startsWith('/') ? encoded : `/${encoded}`;
  } catch {
    return null; // a lone surrogate: no file can be named so
  }
}

function directoryError(): HttpError {
  const err = new HttpError(404, 'EISDIR, read');
  err.code = 'EISDIR';
  return err;
}

/** What Express's res.sendFile passes its callback when the client left before the body went out (ECONNABORTED). */
function econnabortedError(): Error {
  return Object.assign(new Error('Request aborted'), { code: 'ECONNABORTED' });
}

/** The response's side of one sendFile: the headers option, directories, and the one report. */
class FileClaim implements Claimant {
  private reported = false;
  constructor(
    private readonly res: ServerResponse,
    private readonly headers: SendFileOptions['headers'],
    private readonly cb: SendFileCallback,
  ) {}

  hijack(): void {
    const res = this.res;
    if (res.closed) return this.report(res.writableFinished ? undefined : econnabortedError());
    res.once('close', () => this.report(res.writableFinished ? undefined : econnabortedError()));
  }

  setHeaders(_path: string, _stat: Stats): void {
    const headers = this.headers;
    if (headers === undefined) return;
    for (const name of Object.keys(headers)) this.res.setHeader(name, headers[name]);
  }

  directory(): boolean {
    this.report(directoryError());
    return true;
  }

  report(err?: unknown): void {
    if (this.reported) return;
    this.reported = true;
    this.cb(err === undefined ? undefined : err instanceof Error ? err : new HttpError(500));
  }
}

/**
 * The responder that serves one file for `opts` (cached per options), and
 * the target naming `name` under its root; null when no target can name it.
 */
export function fileResponder(name: string, opts: SendFileOptions): { responder: Responder; target: string } | null {
  const root = opts.root ? path.resolve(opts.root) : '/';
  const target = targetFor(name);
  if (target === null) return null;
  const { root: _root, headers: _headers, ...rest } = opts;
  const sluiceOptions: SluiceOptions = { precompressed: false, ...rest };
  return { responder: responders.get(root, sluiceOptions), target };
}

function start(req: IncomingMessage, res: ServerResponse, name: string, opts: SendFileOptions, cb: SendFileCallback): void {
  const found = fileResponder(name, opts);
  if (found === null) return cb(new HttpError(400));
  const { responder, target } = found;
  const claim = new FileClaim(res, opts.headers, cb);
  responder.serve(req, res, (err) => claim.report(err ?? new HttpError(404)), target, target, claim);
}

/**
 * Sends one file as the answer to `req`: zero-copy on plain HTTP/1.1, with
 * ranges, conditionals and validators. `path` is absolute, or relative to
 * `options.root` (which it may not leave). Calls back (or resolves) once the
 * response has finished; on an error nothing has been written and the
 * error carries `status` (404 missing or a directory, 403, 412, 416, ...).
 */
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string, options?: SendFileOptions): Promise<void>;
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string, callback: SendFileCallback): void;
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string, options: SendFileOptions | undefined, callback: SendFileCallback): void;
export function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  options?: SendFileOptions | SendFileCallback,
  callback?: SendFileCallback,
): Promise<void> | void {
  const cb = typeof options === 'function' ? options : callback;
  const opts = (typeof options === 'function' ? undefined : options) ?? {};
  const name = checkPath(file, opts);
  if (cb !== undefined) return start(req, res, name, opts, cb);
  return new Promise<void>((resolve, reject) => start(req, res, name, opts, (err) => (err ? reject(err) : resolve())));
}
