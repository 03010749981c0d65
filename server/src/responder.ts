// One request, start to finish: resolve → open → (symlink policy) →
// precompressed variant → conditionals → range → headers → engine. HTTP
// logic decides what to send and describes the body; the engine only moves
// its bytes.
//
// Hot path: everything that depends only on the options is computed once,
// here, at construction; per-version header strings (ETag, Last-Modified,
// Content-Type) are computed once per file version and kept with the open
// file; a request for a cached file runs synchronously from the request
// event to the engine.
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileBody, type Body, type BodySource } from './body';
import { evaluatePreconditions, isRangeFresh, type Validators } from './conditional';
import type { Engine } from './engines';
import { classifyErrno, statusForErrno } from './errors';
import { openFile, type OpenFile } from './file-table';
import { cacheControlValue, contentRange, contentTypeFor, httpDate, weakEtag } from './headers';
import { FastHeadCache, setFields, type FastHeads } from './fast-head';
import { fromErrno, HttpError } from './http-error';
import { multipartBody } from './multipart';
import type { ContentCoding } from './negotiate';
import type { ResolvedOptions } from './options';
import { SUFFIX, VariantIndex, type Variants } from './precompressed';
import { isWriteWrapped, pipeBody } from './piped';
import { parseRange } from './range';
import { PathResolver, redirectLocation, urlPathname, type Resolution } from './resolve';
import { sendError, sendMethodNotAllowed, sendNotModified, sendRedirect } from './responses';
import { SymlinkGuard } from './symlinks';

/** Connect-style continuation: absent for the standalone server. */
export type Next = (err?: unknown) => void;

export type Respond = (req: IncomingMessage, res: ServerResponse, next?: Next) => void;

/**
 * Something to tell, once, just before the responder first writes to the
 * response (Fastify's reply: `hijack()` takes the response away from Fastify).
 */
export interface Claimant {
  hijack(): unknown;
}

export interface Responder {
  /** serve-static's and createHandler's entry: the target is `req.url`. */
  respond: Respond;
  /**
   * The general entry: `url` is the target below the mount point (what
   * resolves against root), `originalUrl` the request's own (what redirects
   * point at), `claimant` is told before the first write.
   */
  serve(req: IncomingMessage, res: ServerResponse, next: Next | undefined, url: string, originalUrl: string, claimant: Claimant | null): void;
}

/** Per-request state, passed along instead of closing over it. */
class Exchange {
  /** serve-static's 'file' event has fired: from now on every error goes to next(err). */
  found = false;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly next: Next | undefined,
    readonly originalUrl: string,
    readonly claimant: Claimant | null,
  ) {}
}

/** Keys of the per-version values kept in OpenFile.derived. */
const HEADERS_KEY = 'sluice.headers';
const VARIANT_HEADERS_KEY: Readonly<Record<ContentCoding, string>> = {
  br: 'sluice.headers.br',
  zstd: 'sluice.headers.zstd',
  gzip: 'sluice.headers.gzip',
};
const TYPE_KEY = 'sluice.type';
const SOURCE_KEY = 'sluice.source';

interface VersionHeaders {
  etag: string;
  lastModified: string;
}

const VARY_HAS_ACCEPT_ENCODING = /(?:^|,)\s*(?:\*|accept-encoding)\s*(?:,|$)/i;
const HEADERS_SENT_MESSAGE = "Can't set headers after they are sent.";

/**
 * `engine` moves bodies; `framed` moves those only Node may write (HTTP/2
 * frames every byte, even over cleartext h2c where a raw fd is reachable).
 */
export function createResponder(root: string, opts: ResolvedOptions, engine: Engine, framed: Engine): Responder {
  const {
    acceptRanges, dotfiles, etag: sendEtag, extensions, fallthrough, index, lastModified: sendLastModified,
    maxRanges, redirect, setHeaders,
  } = opts;
  const resolver = new PathResolver(root, { dotfiles });
  const cacheControl = opts.cacheControl ? cacheControlValue(opts.maxAge, opts.immutable) : null;
  const rangeOpts = { maxRanges };
  const variants = new VariantIndex(opts.precompressed);
  const guard = new SymlinkGuard(root, opts.symlinks);
  const fastHeads = new FastHeadCache({ acceptRanges, cacheControl, lastModified: sendLastModified, etag: sendEtag });
  // serve-static mounted at /static and asked for /static: send resolves ''
  // to root itself, which is a directory (a redirect) or a file (served).
  const MOUNT_ROOT: Resolution = { kind: 'path', path: root, trailingSlash: false };

  const claim = (x: Exchange): void => {
    if (x.claimant !== null) x.claimant.hijack();
  };

  /** A refusal: fall through, next(err), or an error page. */
  const refuse = (x: Exchange, status: number, err?: Error, headers?: Record<string, string>): void => {
    if (x.next !== undefined) {
      // serve-static: before a file is found, client errors fall through;
      // after, and without fallthrough, every error goes to next(err).
      if (!x.found && fallthrough && status < 500) return x.next();
      return x.next(err ?? new HttpError(status, undefined, headers));
    }
    claim(x);
    sendError(x.res, status, headers);
  };

  /** A file-system error before the head: 404 for a missing file, else 403/500/503. */
  const refuseErrno = (x: Exchange, err: NodeJS.ErrnoException): void => {
    const status = statusForErrno(err.code);
    // Not a missing file but a failure of something that exists: never a
    // fall-through (serve-static forwards these as 500s).
    if (status !== 404) x.found = true;
    const headers = classifyErrno(err.code) === 'busy' ? { 'Retry-After': '1' } : undefined;
    // The error object only for a next(err) that will see it (a 404 that
    // falls through, the common case, builds nothing).
    const forwarded = x.next !== undefined && (x.found || !fallthrough);
    refuse(x, status, forwarded ? fromErrno(err, status, headers) : undefined, headers);
  };

  const serve = (req: IncomingMessage, res: ServerResponse, next: Next | undefined, url: string, originalUrl: string, claimant: Claimant | null): void => {
    const x = new Exchange(req, res, next, originalUrl, claimant);
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      if (next !== undefined && fallthrough) return next();
      claim(x);
      return sendMethodNotAllowed(res);
    }
    const resolution = originalUrl !== url && isMountRoot(url, originalUrl) ? MOUNT_ROOT : resolver.resolve(url);
    if (resolution.kind === 'error') return refuse(x, resolution.status);
    if (resolution.trailingSlash && index.length > 0) return openIndex(x, resolution.path, 0, null);
    const target = resolution.path;
    const trailingSlash = resolution.trailingSlash;
    openFile(target, (err, file) => {
      if (err || file === undefined) {
        if (err?.code === 'ENOENT' && extensions.length > 0 && !trailingSlash && path.extname(target) === '') {
          return openExtension(x, target, 0, err);
        }
        return refuseErrno(x, err ?? enoent());
      }
      if (file.stat.isDirectory()) {
        file.release();
        return onDirectory(x, trailingSlash);
      }
      onFound(x, file);
    });
  };

  /** send's extensions: `/page` → `page.html`, … in order; directories are skipped. */
  const openExtension = (x: Exchange, target: string, i: number, lastErr: NodeJS.ErrnoException | null): void => {
    if (i >= extensions.length) return lastErr ? refuseErrno(x, lastErr) : refuse(x, 404);
    openFile(`${target}.${extensions[i]}`, (err, file) => {
      if (err || file === undefined) return openExtension(x, target, i + 1, err ?? enoent());
      if (file.stat.isDirectory()) {
        file.release();
        return openExtension(x, target, i + 1, null);
      }
      onFound(x, file);
    });
  };

  /** send's index: the first of `index` under `dir` that is not a directory. */
  const openIndex = (x: Exchange, dir: string, i: number, lastErr: NodeJS.ErrnoException | null): void => {
    if (i >= index.length) return lastErr ? refuseErrno(x, lastErr) : refuse(x, 404);
    openFile(path.join(dir, index[i]), (err, file) => {
      if (err || file === undefined) return openIndex(x, dir, i + 1, err ?? enoent());
      if (file.stat.isDirectory()) {
        file.release();
        return openIndex(x, dir, i + 1, null);
      }
      onFound(x, file);
    });
  };

  const onDirectory = (x: Exchange, trailingSlash: boolean): void => {
    if (!redirect || trailingSlash) return refuse(x, 404);
    claim(x);
    sendRedirect(x.res, redirectLocation(x.originalUrl));
  };

  const onFound = (x: Exchange, file: OpenFile): void => {
    // FIFOs, sockets and devices are not files to serve.
    if (!file.stat.isFile()) {
      file.release();
      return refuse(x, 404);
    }
    if (!guard.active) return onAllowed(x, file);
    guard.check(file, (ok) => {
      if (ok) return onAllowed(x, file);
      file.release();
      refuse(x, 403);
    });
  };

  const onAllowed = (x: Exchange, file: OpenFile): void => {
    x.found = true;
    if (!variants.enabled) return represent(x, file, null, null, false);
    const known = variants.lookup(file.path, Date.now());
    if (known !== undefined) return withVariants(x, file, known);
    variants.probe(file.path, (probed) => withVariants(x, file, probed));
  };

  const withVariants = (x: Exchange, file: OpenFile, known: Variants): void => {
    const coding = variants.choose(headerString(x.req.headers['accept-encoding']), known);
    const vary = known.mask !== 0;
    if (coding === null) return represent(x, file, null, null, vary);
    openFile(file.path + SUFFIX[coding], (err, variant) => {
      if (err || variant === undefined || !variant.stat.isFile()) {
        // Gone since we looked (or not a file): the original is always right.
        variant?.release();
        variants.forget(file.path);
        return represent(x, file, null, null, vary);
      }
      if (!guard.active) return represent(x, file, variant, coding, vary);
      guard.check(variant, (ok) => {
        if (ok) return represent(x, file, variant, coding, vary);
        variant.release();
        represent(x, file, null, null, vary);
      });
    });
  };

  /**
   * Headers, conditionals, range, engine. `variant` (with its `coding`)
   * replaces the original's bytes; the original still names the type.
   */
  const represent = (x: Exchange, original: OpenFile, variant: OpenFile | null, coding: ContentCoding | null, vary: boolean): void => {
    const { req, res } = x;
    const file = variant ?? original;
    if (res.headersSent) {
      // Someone else answered meanwhile (middleware chains can).
      file.release();
      if (variant !== null) original.release();
      return refuse(x, 500, new HttpError(500, HEADERS_SENT_MESSAGE));
    }
    const stat = file.stat;
    const size = stat.size;
    const values = versionHeaders(file, coding);
    const typeOfOriginal = typeFor(original);

    // No header set yet (no middleware before us, no setHeaders): ours go
    // in without asking, one by one, whether someone else set them first.
    const pristine = setHeaders === null && res.getHeaderNames().length === 0;
    let type = typeOfOriginal;
    const validators: Validators = {};
    let heads: FastHeads | null = null;
    if (pristine) {
      if (sendLastModified) validators.lastModified = stat.mtimeMs;
      if (sendEtag) validators.etag = values.etag;
      const cached = fastHeads.get(file, { etag: values.etag, lastModified: values.lastModified, type, coding, vary, size });
      // The standalone handler, with nothing around it that could read or
      // change the head: the version's whole head goes to writeHead() as is.
      // Anywhere else the same fields, in the same order, become headers.
      if (x.next === undefined && x.claimant === null && req.httpVersionMajor === 1 && !isWriteWrapped(res)) heads = cached;
      else setFields(res, cached.partial);
    } else {
      // send's order: the user's headers first, ours only where they set none.
      if (setHeaders !== null) setHeaders(res, original.path, original.stat);
      if (acceptRanges && !res.hasHeader('Accept-Ranges')) res.setHeader('Accept-Ranges', 'bytes');
      if (cacheControl !== null && !res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', cacheControl);
      if (sendLastModified && !res.hasHeader('Last-Modified')) res.setHeader('Last-Modified', values.lastModified);
      if (sendEtag && !res.hasHeader('ETag')) res.setHeader('ETag', values.etag);
      const presetType = res.getHeader('Content-Type');
      if (presetType === undefined) res.setHeader('Content-Type', type);
      else type = String(presetType);
      if (vary) appendVary(res);
      if (coding !== null) res.setHeader('Content-Encoding', coding);
      const etag = res.getHeader('ETag');
      const lastModified = res.getHeader('Last-Modified');
      if (typeof etag === 'string') validators.etag = etag;
      if (typeof lastModified === 'string') validators.lastModified = Date.parse(lastModified);
    }
    // The original's fd is not needed: its name gave the type, that is all.
    if (coding !== null) original.release();

    const headers = req.headers;
    if (
      headers['if-match'] !== undefined ||
      headers['if-unmodified-since'] !== undefined ||
      headers['if-none-match'] !== undefined ||
      headers['if-modified-since'] !== undefined
    ) {
      const outcome = evaluatePreconditions(req.method ?? 'GET', headers, validators);
      if (outcome === 'precondition-failed') {
        file.release();
        return refuse(x, 412);
      }
      // send: a status set by earlier middleware that is not 2xx is sent as is, never as 304.
      if (outcome === 'not-modified' && isCacheable(res.statusCode)) {
        file.release();
        claim(x);
        if (heads !== null) {
          res.writeHead(304, heads.notModified);
          res.end();
          return;
        }
        return sendNotModified(res);
      }
    }

    const source = bodySource(file);
    let body: Body | null = null;
    let rangeField: string | null = null;
    if (acceptRanges && headers.range !== undefined) {
      const range = parseRange(headers.range, size, rangeOpts);
      if (range.kind !== 'none' && isRangeFresh(headerString(headers['if-range']), validators)) {
        if (range.kind === 'unsatisfiable') {
          file.release();
          const unsatisfied = `bytes */${size}`;
          if (x.next !== undefined) res.setHeader('Content-Range', unsatisfied);
          return refuse(x, 416, undefined, { 'Content-Range': unsatisfied });
        }
        const ranges = range.ranges;
        if (ranges.length === 1) {
          const only = ranges[0];
          res.statusCode = 206;
          rangeField = contentRange(only.start, only.end, size);
          if (heads === null) res.setHeader('Content-Range', rangeField);
          body = fileBody(file.fd, only.start, only.end - only.start + 1, source);
        } else if (coding === null) {
          // Several ranges of a compressed variant are answered with the whole
          // variant: what Content-Encoding would mean across parts is unclear.
          res.statusCode = 206;
          if (heads !== null) {
            // Rare enough to take the general path: its fields become headers.
            setFields(res, heads.partial);
            heads = null;
          }
          const multipart = multipartBody(file.fd, ranges, size, type, source);
          res.setHeader('Content-Type', multipart.contentType);
          body = multipart.body;
        }
      }
    }
    if (body === null) body = fileBody(file.fd, 0, size, source);
    if (heads === null) res.setHeader('Content-Length', body.length);
    else if (rangeField === null) res.writeHead(res.statusCode, heads.whole);
    else res.writeHead(206, [...heads.partial, 'Content-Range', rangeField, 'Content-Length', String(body.length)]);

    claim(x);
    if (req.method === 'HEAD' || body.length === 0) {
      file.release();
      res.end();
      return;
    }
    const sent = (err: Error | null): void => {
      // The file is shorter than its stat: never serve that version again.
      if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_SLUICE_TRUNCATED') file.invalidate();
      file.release();
      if (err) {
        // Head and possibly body bytes are out: the only honest end is to
        // close the connection, never to end a short body.
        res.destroy();
        return;
      }
      res.end();
    };
    // HTTP/2 frames every byte of the body (even over cleartext h2c, where a
    // raw fd would be reachable): only Node may write to that socket.
    if (req.httpVersionMajor === 2) return framed.send(req, res, body, sent);
    // Someone wrapped res.write (compression, say): the bytes must go through it.
    if (isWriteWrapped(res)) return pipeBody(res, body, sent);
    engine.send(req, res, body, sent);
  };

  const respond: Respond = (req, res, next) => {
    const url = req.url ?? '/';
    // Express and Connect keep the URL before mounting in originalUrl.
    const originalUrl = next !== undefined ? (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? url : url;
    serve(req, res, next, url, originalUrl, null);
  };

  return { respond, serve };
}

/**
 * serve-static "makes sure redirect occurs at mount": mounted at /static, a
 * request for /static arrives as `/` and must redirect to /static/.
 */
function isMountRoot(url: string, originalUrl: string): boolean {
  return urlPathname(url) === '/' && !urlPathname(originalUrl).endsWith('/');
}

function isCacheable(status: number): boolean {
  return (status >= 200 && status < 300) || status === 304;
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** ETag and Last-Modified of one version of a file, computed once. */
function versionHeaders(file: OpenFile, coding: ContentCoding | null): VersionHeaders {
  const key = coding === null ? HEADERS_KEY : VARIANT_HEADERS_KEY[coding];
  let values = file.derived.get(key) as VersionHeaders | undefined;
  if (values === undefined) {
    const etag = weakEtag(file.stat);
    values = {
      // A variant's ETag names its coding, so no two representations of
      // one URL ever share a validator.
      etag: coding === null ? etag : `${etag.slice(0, -1)}-${coding}"`,
      lastModified: httpDate(file.stat.mtimeMs),
    };
    file.derived.set(key, values);
  }
  return values;
}

/** What engines may cache per file version (small files' bytes): one object per version. */
function bodySource(file: OpenFile): BodySource {
  let source = file.derived.get(SOURCE_KEY) as BodySource | undefined;
  if (source === undefined) {
    source = { fd: file.fd, size: file.stat.size, derived: file.derived };
    file.derived.set(SOURCE_KEY, source);
  }
  return source;
}

function typeFor(file: OpenFile): string {
  let type = file.derived.get(TYPE_KEY) as string | undefined;
  if (type === undefined) {
    type = contentTypeFor(file.path);
    file.derived.set(TYPE_KEY, type);
  }
  return type;
}

/** Adds Accept-Encoding to Vary unless it (or `*`) is already there. */
function appendVary(res: ServerResponse): void {
  const current = res.getHeader('Vary');
  if (current === undefined) {
    res.setHeader('Vary', 'Accept-Encoding');
    return;
  }
  const value = Array.isArray(current) ? current.join(', ') : String(current);
  if (!VARY_HAS_ACCEPT_ENCODING.test(value)) res.setHeader('Vary', value ? `${value}, Accept-Encoding` : 'Accept-Encoding');
}

function enoent(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
}
