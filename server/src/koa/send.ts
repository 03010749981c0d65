// koa-send's send(ctx, path, opts) answered by sluice's responder on
// ctx.req / ctx.res. The path is read as koa-send reads it (its root
// stripped, percent-decoded, kept below `root`, hidden names refused,
// index and extensions tried, a directory's index served when `format`);
// headers already on the response (ctx.set(), ctx.type, setHeaders) are
// kept, as koa-send keeps them; the status is Koa's (200 unless one was set
// explicitly) and ends up on ctx.status. Once the answer is decided the
// adapter sets ctx.respond = false (Koa writes nothing) and the body goes
// out through sluice's engines; the promise then resolves to the file's
// path (with `.br`/`.gz` when a sibling is sent). A miss rejects with a 404
// (koa-static passes it on), any other refusal (400, 403, 412, 416) with
// its status and headers for Koa's error handling.
import type { Stats } from 'node:fs';
import * as fs from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { HeaderTarget } from '../head';
import { HttpError } from '../http-error';
import type { ContentCoding } from '../negotiate';
import { SUFFIX } from '../precompressed';
import type { Claimant } from '../exchange';
import type { Responder } from '../responder';
import { targetFor } from '../send-file';
import { ResponderCache } from '../setup';
import { prepare, type Prepared, type SendOptions } from './options';

/** What of a Koa context the adapter uses (Koa's own Context has all of it). */
export interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request's pathname, still percent-encoded (what koa-static sends). */
  path: string;
  method: string;
  status: number;
  body?: unknown;
  /** Set to false once sluice answers: Koa then writes nothing. */
  respond?: boolean;
  response: object;
}

const responders = new ResponderCache({ fallthrough: false, slashless: 'index', anyMethod: true });
const prepared = new WeakMap<object, Prepared>();
/** The responder each prepared options object last used, and for which root (the working directory may change). */
const bound = new WeakMap<Prepared, { root: string; responder: Responder }>();

// resolve-path's test for a ".." left after normalising.
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/** The options object's prepared form, made once per object. */
export function preparedOf(opts: SendOptions): Prepared {
  let known = prepared.get(opts);
  if (known === undefined) {
    known = prepare(opts);
    prepared.set(opts, known);
  }
  return known;
}

/** The responder for `opts` (made on first use; options sluice refuses throw here). */
export function responderFor(opts: Prepared): Responder {
  const root = opts.root ?? process.cwd();
  const known = bound.get(opts);
  if (known !== undefined && known.root === root) return known.responder;
  const responder = responders.get(root, opts.sluice);
  bound.set(opts, { root, responder });
  return responder;
}

/** Whether Koa's status was set by the app (else a found file is a 200). */
function explicitStatus(ctx: KoaContext): boolean {
  return (ctx.response as { _explicitStatus?: boolean })._explicitStatus === true;
}

/** The response as sluice sees it before it answers: Koa's status, the response's headers. */
class KoaClaim implements Claimant, HeaderTarget {
  readonly fields: HeaderTarget = this;
  private file: string | null = null;

  constructor(
    private readonly ctx: KoaContext,
    private readonly opts: Prepared,
    private readonly done: (path: string | undefined) => void,
  ) {}

  get statusCode(): number {
    return explicitStatus(this.ctx) ? this.ctx.res.statusCode : 200;
  }

  set statusCode(status: number) {
    this.ctx.res.statusCode = status;
  }

  getHeaderNames(): string[] {
    return this.ctx.res.getHeaderNames();
  }

  getHeaders(): OutgoingHttpHeaders {
    return this.ctx.res.getHeaders();
  }

  setHeader(name: string, value: number | string | readonly string[]): void {
    this.ctx.res.setHeader(name, value);
  }

  removeHeader(name: string): void {
    this.ctx.res.removeHeader(name);
  }

  /** koa-send's order: setHeaders first, then Cache-Control where none was set. */
  setHeaders(file: string, stat: Stats): void {
    this.file = file;
    const res = this.ctx.res;
    this.opts.setHeaders?.(res, file, stat);
    if (!res.hasHeader('cache-control')) res.setHeader('Cache-Control', this.opts.cacheControl);
  }

  /** A directory koa-send would not serve: no index for it, or `format: false`. */
  directory(_dir: string, trailingSlash: boolean): boolean {
    if (!trailingSlash && this.opts.format && this.opts.index !== null) return false;
    this.done(undefined);
    return true;
  }

  /** sluice answers from here: Koa must write nothing. */
  hijack(): void {
    this.ctx.respond = false;
    const file = this.file;
    const coding = this.ctx.res.getHeader('content-encoding') as ContentCoding | undefined;
    if (file === null || coding === undefined || !(coding in SUFFIX)) return this.done(file ?? undefined);
    const sibling = file + SUFFIX[coding];
    if (!this.opts.compressing) return this.done(sibling);
    // With the compress cache on, the bytes may be a cached variant, not a sibling.
    fs.access(sibling, (err) => this.done(err ? file : sibling));
  }
}

/** koa-send's reading of `filePath`: relative to root, decoded, never above root, hidden names refused (null). */
function relativePath(filePath: string, opts: Prepared): string | null {
  let rel = filePath.slice(path.parse(filePath).root.length);
  try {
    rel = decodeURIComponent(rel);
  } catch {
    throw new HttpError(400, 'failed to decode');
  }
  if (rel.includes('\0')) throw new HttpError(400, 'Malicious Path');
  const normalized = path.posix.normalize(`./${rel}`);
  if (UP_PATH.test(normalized)) throw new HttpError(403);
  if (!opts.hidden) {
    const named = opts.index !== null && rel.endsWith('/') ? normalized + opts.index : normalized;
    if (named.split('/').some((part) => part.startsWith('.') && part !== '.')) return null;
  }
  return rel;
}

/** send(), with its options prepared. */
export function sendPrepared(ctx: KoaContext, filePath: string, opts: Prepared): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const rel = relativePath(filePath, opts);
    if (rel === null) return resolve(undefined);
    const target = targetFor(`/${rel}`);
    if (target === null) return reject(new HttpError(400, 'failed to decode'));
    const responder = responderFor(opts);
    let settled = false;
    const settle = (err: unknown, file?: string): void => {
      if (settled) return;
      settled = true;
      if (err === undefined) resolve(file);
      else reject(err instanceof Error ? err : new HttpError(404));
    };
    const claim = new KoaClaim(ctx, opts, (file) => settle(undefined, file));
    responder.serve(ctx.req, ctx.res, (err) => settle(err ?? new HttpError(404)), target, target, claim);
  });
}

/**
 * koa-send: sends the file at `filePath` (relative to `opts.root`, or to
 * the working directory) as the answer to `ctx`, zero-copy. Resolves to
 * the path sent, or undefined for a hidden name or a directory it does not
 * serve; rejects with a 404 for a missing file, and with the status (and
 * headers) of any other refusal.
 */
export async function send(ctx: KoaContext, filePath: string, opts: SendOptions = {}): Promise<string | undefined> {
  if (!ctx) throw new Error('koa context required');
  if (!filePath) throw new Error('file pathname required');
  return sendPrepared(ctx, filePath, preparedOf(opts));
}
