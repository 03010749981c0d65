// `sluice/hono`: @hono/node-server's serveStatic, zero-copy. The same
// options with the same defaults (root, path, index, precompressed,
// rewriteRequestPath, onFound, onNotFound, mimes), the same file for the
// same URL, plus sluice's (maxAge, etag, symlinks, compress, ...). A found
// file is answered on the raw Node request and response
// (c.env.incoming / c.env.outgoing) through sluice's engines, with the
// headers already set on the context (c.header()), ETag and 304, 412,
// single and multipart ranges, and Vary on precompressed files; the chain
// gets back a Response marked as already sent (x-hono-already-sent), which
// @hono/node-server does not write. A miss calls onNotFound and next().
//
//   import { serve } from '@hono/node-server'
//   import { serveStatic } from 'sluice/hono'
//   app.use('/static/*', serveStatic({ root: './public' }))
import { existsSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { Context, Env, MiddlewareHandler, Next } from 'hono';
import type { EngineName } from './engines';
import { honoBindingsError } from './errors';
import type { ContentCoding } from './negotiate';
import type { CompressOption, SluiceOptions, SymlinkPolicy } from './options';
import type { Responder } from './responder';
import { targetFor } from './send-file';
import { build } from './setup';
import { HonoClaim, type Outcome, type TypeOf } from './hono/claim';
import { lenientRange, requestFileName } from './hono/request-path';

export interface ServeStaticOptions<E extends Env = Env> {
  /** Root path; a relative one is from the working directory (default ''). */
  root?: string;
  /** One file for every request this middleware sees (joined to root). */
  path?: string;
  /** Served for a directory (default 'index.html'). */
  index?: string;
  /** Serve `x.br` / `x.zst` / `x.gz` beside `x` to clients that accept them (default false). */
  precompressed?: boolean | ContentCoding[];
  rewriteRequestPath?: (path: string, c: Context<E>) => string;
  /** Runs once the file is found, before its head is written: headers set with c.header() here are sent. */
  onFound?: (path: string, c: Context<E>) => void | Promise<void>;
  onNotFound?: (path: string, c: Context<E>) => void | Promise<void>;
  /** Content-Types by extension, added to Hono's (`{ m3u8: 'application/vnd.apple.mpegurl' }`). */
  mimes?: Record<string, string>;
  // sluice's own options.
  /** Cache-Control max-age in ms or as '1d' (default: no Cache-Control, as @hono/node-server). */
  maxAge?: number | string;
  immutable?: boolean;
  /** Send Cache-Control (default: only when maxAge or immutable is given). */
  cacheControl?: boolean;
  /** Weak size-mtime ETags (default true), 'strong' for content hashes, false for none. */
  etag?: boolean | 'strong';
  lastModified?: boolean;
  acceptRanges?: boolean;
  /** Most parts a multi-range request may ask for. */
  maxRanges?: number;
  /** 'follow' (default), 'within-root' or 'deny'; a refused link is a miss. */
  symlinks?: SymlinkPolicy;
  /** Compress compressible files once, in the background, into a cache on disk (off by default). */
  compress?: boolean | CompressOption;
  /** Fields on every file answer and its 304s: the place for what middleware would add after `await next()` (secureHeaders'). */
  headers?: Record<string, string | number>;
  /** Dot files: 'allow' (default, as @hono/node-server), 'ignore' (a miss) or 'deny'. */
  dotfiles?: 'allow' | 'ignore' | 'deny';
  engine?: EngineName | 'auto';
  /** Read Range as @hono/node-server does (default true): `0-9`, and a malformed range as the whole file. */
  lenientRange?: boolean;
}

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

type GetMimeType = (file: string, mimes?: Record<string, string>) => string | undefined;

let getMimeType: GetMimeType | null = null;

/** Hono's own type table (hono is a peer dependency of this entry point). */
function honoMimeType(): GetMimeType {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  getMimeType ??= (require('hono/utils/mime') as { getMimeType: GetMimeType }).getMimeType;
  return getMimeType;
}

const X_ALREADY_SENT = 'x-hono-already-sent';

/** What the chain gets for an answer sluice wrote: @hono/node-server skips writing it. */
function alreadySent(status: number): Response {
  const res = new Response(null, { status, headers: { [X_ALREADY_SENT]: 'true' } });
  // @hono/node-server's own Response writes a head for a cached null body:
  // reading the body turns it into the platform's Response, which it does not.
  void res.body;
  return res;
}

function sluiceOptions<E extends Env>(options: ServeStaticOptions<E>): SluiceOptions {
  const { maxAge, immutable, etag, lastModified, acceptRanges, maxRanges, symlinks, compress, engine, headers } = options;
  return {
    headers,
    maxAge,
    immutable,
    cacheControl: options.cacheControl ?? (maxAge !== undefined || immutable === true),
    etag,
    lastModified,
    acceptRanges,
    maxRanges,
    symlinks,
    compress,
    engine,
    dotfiles: options.dotfiles ?? 'allow',
    index: options.index ?? 'index.html',
    precompressed: options.precompressed ?? false,
    contentType: false,
    redirect: false,
  };
}

/** The request's file below root (the peer's path), or null when the request may not name one. */
function fileNameOf<E extends Env>(options: ServeStaticOptions<E>, c: Context<E>): string | null {
  if (options.path) return options.path;
  const name = requestFileName(c.req.path);
  if (name === null) return null;
  return options.rewriteRequestPath ? options.rewriteRequestPath(name, c) : name;
}

const OVERRIDES = { slashless: 'index', anyMethod: true } as const;

class HonoFiles<E extends Env> {
  private readonly responder: Responder;
  /** For a `path` or rewritten path that leaves root (as `join(root, '../x')` may): rooted at '/'. */
  private outside: Responder | null = null;
  private readonly absRoot: string;
  private readonly typeOf: TypeOf;

  constructor(
    private readonly options: ServeStaticOptions<E>,
    private readonly root: string,
  ) {
    this.absRoot = path.resolve(root);
    this.responder = build(this.absRoot, sluiceOptions(options), OVERRIDES).responder;
    const mimes = options.mimes;
    this.typeOf = (file) => honoMimeType()(file, mimes) || 'application/octet-stream';
  }

  readonly handle = async (c: Context<E>, next: Next): Promise<Response | void> => {
    if (c.finalized) return next();
    const name = fileNameOf(this.options, c);
    if (name === null) return this.miss(c.req.path, c, next);
    const full = path.join(this.root, name);
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    if (incoming === undefined || outgoing === undefined) throw honoBindingsError();
    if (this.options.onFound !== undefined) return this.serveAfterOnFound(full, c, next, incoming, outgoing);
    const claim = new HonoClaim(c, outgoing, this.typeOf);
    return this.serveFile(full, c, next, incoming, outgoing, claim);
  };

  /** onFound may be async: the file is looked up first, and its head waits for onFound. */
  private async serveAfterOnFound(full: string, c: Context<E>, next: Next, req: IncomingMessage, res: ServerResponse): Promise<Response | void> {
    const file = await located(full, this.options.index ?? 'index.html');
    if (file === null) return this.miss(full, c, next);
    c.header('Content-Type', this.typeOf(file));
    await this.options.onFound?.(file, c);
    return this.serveFile(file, c, next, req, res, new HonoClaim(c, res, null));
  }

  /** `full` (the peer's path: root joined with the request's) answered by the responder, or handed back to the chain. */
  private async serveFile(full: string, c: Context<E>, next: Next, req: IncomingMessage, res: ServerResponse, claim: HonoClaim): Promise<Response | void> {
    const [responder, target] = this.targetOf(full);
    if (target === null) return this.miss(full, c, next);
    const range = req.headers.range;
    if (range !== undefined && this.options.lenientRange !== false) req.headers.range = lenientRange(range);
    responder.serve(req, res, claim.next, target, req.url ?? '/', claim);
    return this.settled(await claim.done, full, c, next, res);
  }

  private settled(outcome: Outcome, reported: string, c: Context<E>, next: Next, res: ServerResponse): Promise<Response | void> | Response {
    if (outcome.kind === 'sent') return alreadySent(res.statusCode);
    const err = outcome.kind === 'miss' ? { status: 404 } : (outcome.err as { status?: number; headers?: Record<string, string> });
    const status = err.status ?? 500;
    const handBack = status === 404 || (status >= 500 && err.headers === undefined);
    // What reaches the chain is answered by Hono, with none of this file's fields.
    if (handBack && !res.headersSent) for (const name of res.getHeaderNames()) res.removeHeader(name);
    if (status === 404) return this.miss(reported, c, next);
    if (handBack || res.headersSent) throw outcome.kind === 'refused' ? outcome.err : new Error('response already sent');
    // 412, 416, 403, 503 (out of descriptors): the representation's fields and the refusal's, no body.
    for (const [name, value] of Object.entries(err.headers ?? {})) res.setHeader(name, value);
    res.statusCode = status;
    res.setHeader('Content-Length', '0');
    res.end();
    return alreadySent(status);
  }

  private async miss(reported: string, c: Context<E>, next: Next): Promise<void> {
    await this.options.onNotFound?.(reported, c);
    return next();
  }

  /**
   * The responder for `full` and `full` as its request target. A path
   * outside root (the `path` option or a rewrite may name one, and
   * @hono/node-server serves it) is served only where links are followed
   * anywhere; under 'within-root' or 'deny' it is a miss (null).
   */
  private targetOf(full: string): [Responder, string | null] {
    const abs = path.resolve(full);
    const rel = path.relative(this.absRoot, abs);
    const slash = full.endsWith('/') || full.endsWith(path.sep) ? '/' : '';
    if (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)) {
      return [this.responder, targetFor(`/${rel.split(path.sep).join('/')}${rel === '' ? '' : slash}`)];
    }
    if ((this.options.symlinks ?? 'follow') !== 'follow') return [this.responder, null];
    this.outside ??= build('/', sluiceOptions(this.options), OVERRIDES).responder;
    return [this.outside, targetFor(`${abs.split(path.sep).join('/')}${slash}`)];
  }
}

/** `full`, or its index when it is a directory; null when neither is there. */
async function located(full: string, index: string): Promise<string | null> {
  let st: Stats | null = await stat(full).catch(() => null);
  if (st?.isDirectory()) {
    full = path.join(full, index);
    st = await stat(full).catch(() => null);
  }
  return st === null ? null : full;
}

/**
 * @hono/node-server's serveStatic with sluice's engines underneath:
 * `app.use('/static/*', serveStatic({ root: './public' }))`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const serveStatic = <E extends Env = any>(options: ServeStaticOptions<E> = { root: '' }): MiddlewareHandler<E> => {
  const root = options.root || '';
  if (root !== '' && !existsSync(root)) {
    console.error(`serveStatic: root path '${root}' is not found, are you sure it's correct?`);
  }
  return new HonoFiles(options, root).handle;
};
