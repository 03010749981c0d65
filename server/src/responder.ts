// One request, start to finish, as a sequence: resolve → open → guard
// (symlink policy) → variant (precompressed sibling) → plan → respond.
// Each stage lives in its own module; this one only strings them together
// and turns every early end into the adapter's refusal (a fall-through,
// next(err), or an error page).
//
// Hot path: everything that depends only on the options is computed here,
// once, at construction; per-version values (validators, type, head lists)
// are computed once per file version and kept with it; a request for a
// cached file runs synchronously from the request event to the engine.
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCompressCache, type CompressCache } from './compress-cache';
import { isQueued, whenTurn, type Transports } from './engines';
import { classifyErrno, enoent, statusForErrno } from './errors';
import { openFile, type FileVersion } from './file-table';
import { cacheControlValue, HeadCache, presetOf, representationOf, setFields, typeOf } from './head';
import { fromErrno, HttpError } from './http-error';
import type { ContentCoding } from './negotiate';
import type { ResolvedOptions } from './options';
import { headerString, plan, type PlanOptions } from './plan';
import { SUFFIX, VariantIndex, type Variants } from './precompressed';
import { PathResolver, redirectLocation, urlPathname, type Resolution } from './resolve';
import { respond } from './respond';
import { sendError, sendMethodNotAllowed, sendRedirect } from './responses';
import { SymlinkGuard } from './symlinks';

/** Connect-style continuation: absent for the standalone server. */
export type Next = (err?: unknown) => void;

/**
 * Something to tell, once, just before the responder first writes to the
 * response (Fastify's reply: `hijack()` takes the response away from Fastify).
 */
export interface Claimant {
  hijack(): unknown;
}

/** Per-request state, passed along instead of closed over. */
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

  /** Whether anything but sluice can see the response (an adapter around it). */
  get adapted(): boolean {
    return this.next !== undefined || this.claimant !== null;
  }

  claim(): void {
    if (this.claimant !== null) this.claimant.hijack();
  }
}

const HEADERS_SENT_MESSAGE = "Can't set headers after they are sent.";
/** What a file has when precompressed siblings are not looked for. */
const NO_SIBLINGS: Variants = { codings: [], mask: 0, seenAt: 0 };

export class Responder {
  private readonly opts: ResolvedOptions;
  private readonly resolver: PathResolver;
  private readonly variants: VariantIndex;
  private readonly guard: SymlinkGuard;
  private readonly heads: HeadCache;
  private readonly planOptions: PlanOptions;
  private readonly compress: CompressCache | null;
  // serve-static mounted at /static and asked for /static: send resolves ''
  // to root itself, which is a directory (a redirect) or a file (served).
  private readonly mountRoot: Resolution;

  constructor(
    root: string,
    opts: ResolvedOptions,
    private readonly transports: Transports,
  ) {
    this.opts = opts;
    this.resolver = new PathResolver(root, { dotfiles: opts.dotfiles });
    this.variants = new VariantIndex(opts.precompressed);
    this.guard = new SymlinkGuard(root, opts.symlinks);
    const cacheControl = opts.cacheControl ? cacheControlValue(opts.maxAge, opts.immutable) : null;
    this.heads = new HeadCache({ acceptRanges: opts.acceptRanges, cacheControl, lastModified: opts.lastModified, etag: opts.etag });
    this.planOptions = { policy: this.heads.policy, maxRanges: opts.maxRanges };
    this.mountRoot = { kind: 'path', path: root, trailingSlash: false };
    this.compress = opts.compress === null ? null : openCompressCache(opts.compress, root);
  }

  /** serve-static's and createHandler's entry: the target is `req.url`. */
  readonly respond = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    const url = req.url ?? '/';
    // Express and Connect keep the URL before mounting in originalUrl.
    const originalUrl = next !== undefined ? ((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? url) : url;
    this.serve(req, res, next, url, originalUrl, null);
  };

  /**
   * The general entry: `url` is the target below the mount point (what
   * resolves against root), `originalUrl` the request's own (what redirects
   * point at), `claimant` is told before the first write.
   */
  readonly serve = (req: IncomingMessage, res: ServerResponse, next: Next | undefined, url: string, originalUrl: string, claimant: Claimant | null): void => {
    // A pipelined request waits for its turn before it opens anything, so
    // queued requests hold no descriptor, and head and body come from the
    // version current when they go out.
    if (isQueued(res)) return whenTurn(req, res, () => this.serve(req, res, next, url, originalUrl, claimant));
    const x = new Exchange(req, res, next, originalUrl, claimant);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (next !== undefined && this.opts.fallthrough) return next();
      x.claim();
      return sendMethodNotAllowed(res);
    }
    const resolution = originalUrl !== url && isMountRoot(url, originalUrl) ? this.mountRoot : this.resolver.resolve(url);
    if (resolution.kind === 'error') return this.refuse(x, resolution.status);
    if (resolution.trailingSlash && this.opts.index.length > 0) {
      return this.openFirst(
        x,
        this.opts.index.map((name) => path.join(resolution.path, name)),
        0,
        null,
      );
    }
    this.openTarget(x, resolution.path, resolution.trailingSlash);
  };

  /** The request's own path: a file, a directory (redirect or 404), or a miss that send's extensions may rescue. */
  private openTarget(x: Exchange, target: string, trailingSlash: boolean): void {
    openFile(target, (err, file) => {
      if (err || file === undefined) {
        const { extensions } = this.opts;
        if (err?.code === 'ENOENT' && extensions.length > 0 && !trailingSlash && path.extname(target) === '') {
          return this.openFirst(
            x,
            extensions.map((ext) => `${target}.${ext}`),
            0,
            err,
          );
        }
        return this.refuseErrno(x, err ?? enoent());
      }
      if (file.stat.isDirectory()) {
        file.release();
        return this.onDirectory(x, trailingSlash);
      }
      this.onFound(x, file);
    });
  }

  /** The first of `candidates` that opens and is not a directory (send's index and extensions). */
  private openFirst(x: Exchange, candidates: readonly string[], i: number, lastErr: NodeJS.ErrnoException | null): void {
    if (i >= candidates.length) return lastErr ? this.refuseErrno(x, lastErr) : this.refuse(x, 404);
    openFile(candidates[i], (err, file) => {
      if (err || file === undefined) return this.openFirst(x, candidates, i + 1, err ?? enoent());
      if (file.stat.isDirectory()) {
        file.release();
        return this.openFirst(x, candidates, i + 1, null);
      }
      this.onFound(x, file);
    });
  }

  private onDirectory(x: Exchange, trailingSlash: boolean): void {
    if (!this.opts.redirect || trailingSlash) return this.refuse(x, 404);
    x.claim();
    sendRedirect(x.res, redirectLocation(x.originalUrl));
  }

  private onFound(x: Exchange, file: FileVersion): void {
    // FIFOs, sockets and devices are not files to serve.
    if (!file.stat.isFile()) {
      file.release();
      return this.refuse(x, 404);
    }
    this.guarded(file, (ok) => {
      if (!ok) {
        file.release();
        return this.refuse(x, 403);
      }
      x.found = true;
      if (!this.variants.enabled) return this.withVariants(x, file, NO_SIBLINGS);
      const known = this.variants.lookup(file.path, Date.now());
      if (known !== undefined) return this.withVariants(x, file, known);
      this.variants.probe(file.path, (probed) => this.withVariants(x, file, probed));
    });
  }

  /** The symlink policy's verdict on `file`: at once when there is no policy to apply. */
  private guarded(file: FileVersion, cb: (ok: boolean) => void): void {
    if (!this.guard.active) return cb(true);
    this.guard.check(file, cb);
  }

  private withVariants(x: Exchange, file: FileVersion, known: Variants): void {
    const coding = this.variants.choose(headerString(x.req.headers['accept-encoding']), known);
    const vary = known.mask !== 0;
    // Siblings on disk win over the compress cache.
    if (coding === null) return vary ? this.answer(x, file, null, null, true) : this.fromCache(x, file);
    openFile(file.path + SUFFIX[coding], (err, variant) => {
      if (err || variant === undefined || !variant.stat.isFile()) {
        // Gone since we looked (or not a file): the original is always right.
        variant?.release();
        this.variants.forget(file.path);
        return this.answer(x, file, null, null, vary);
      }
      this.guarded(variant, (ok) => {
        if (ok) return this.answer(x, file, variant, coding, vary);
        variant.release();
        this.answer(x, file, null, null, vary);
      });
    });
  }

  /**
   * A file with no sibling: its cached variant when ready (else identity now,
   * the variant made in the background), when compressing it is worth it.
   */
  private fromCache(x: Exchange, file: FileVersion): void {
    const cache = this.compress;
    if (cache === null || !cache.accepts(file, typeOf(file))) return this.answer(x, file, null, null, false);
    // From here the answer depends on Accept-Encoding, identity included.
    const coding = cache.choose(headerString(x.req.headers['accept-encoding']));
    const entry = coding === null ? null : cache.lookup(file, coding);
    if (entry === null) return this.answer(x, file, null, null, true);
    openFile(
      entry,
      (err, variant) => {
        if (err || variant === undefined || !variant.stat.isFile()) {
          // Evicted by another process since: identity is always right.
          variant?.release();
          cache.forget(entry);
          return this.answer(x, file, null, null, true);
        }
        this.answer(x, file, variant, coding, true, file);
      },
      fs.constants.O_NOFOLLOW,
    );
  }

  /**
   * Plans and writes the answer. `variant` (with its `coding`) replaces the
   * original's bytes; the original still names the type.
   */
  private answer(x: Exchange, original: FileVersion, variant: FileVersion | null, coding: ContentCoding | null, vary: boolean, validated?: FileVersion): void {
    const { req, res } = x;
    const version = variant ?? original;
    if (res.headersSent) {
      // Someone else answered meanwhile (middleware chains can).
      releaseBoth(original, variant);
      return this.refuse(x, 500, new HttpError(500, HEADERS_SENT_MESSAGE));
    }
    const failed = this.applySetHeaders(x, original);
    if (failed !== null) {
      releaseBoth(original, variant);
      return this.refuse(x, 500, failed);
    }
    const preset = presetOf(res);
    const rep = representationOf(original, version, coding, vary, validated ?? version);
    // The original's fd is not needed past this point: its name gave the type.
    if (variant !== null) original.release();
    const lists = preset === null ? this.heads.lists(rep) : null;
    const planned = plan({ method: req.method ?? 'GET', headers: req.headers, status: res.statusCode, rep, lists, preset }, this.planOptions);
    if (planned.kind === 'refuse') {
      version.release();
      // Under middleware the response next(err) sees carries the
      // representation's fields, as with send.
      if (x.next !== undefined) {
        setFields(res, planned.fields);
        for (const [name, value] of Object.entries(planned.headers ?? {})) res.setHeader(name, value);
      }
      return this.refuse(x, planned.status, undefined, planned.headers);
    }
    // Nothing but sluice can see or change the response: its head can go as one list.
    const visible = x.adapted || preset !== null || this.opts.setHeaders !== null || !this.transports.isPlainHttp1(req, res);
    respond(this.transports, req, res, planned, version, visible, () => x.claim());
  }

  /** Runs the user's setHeaders; returns what it threw (a 500, or next(err)), never lets it crash the process. */
  private applySetHeaders(x: Exchange, original: FileVersion): Error | null {
    const setHeaders = this.opts.setHeaders;
    if (setHeaders === null) return null;
    try {
      setHeaders(x.res, original.path, original.stat);
      return null;
    } catch (err) {
      return err instanceof Error ? err : new HttpError(500);
    }
  }

  /** A refusal: fall through, next(err), or an error page. */
  private refuse(x: Exchange, status: number, err?: Error, headers?: Record<string, string>): void {
    if (x.next !== undefined) {
      // serve-static: before a file is found, client errors fall through;
      // after, and without fallthrough, every error goes to next(err).
      if (!x.found && this.opts.fallthrough && status < 500) return x.next();
      return x.next(err ?? new HttpError(status, undefined, headers));
    }
    x.claim();
    sendError(x.res, status, headers);
  }

  /** A file-system error before the head: 404 for a missing file, else 403/500/503. */
  private refuseErrno(x: Exchange, err: NodeJS.ErrnoException): void {
    const status = statusForErrno(err.code);
    // Not a missing file but a failure of something that exists: never a
    // fall-through (serve-static forwards these as 500s).
    if (status !== 404) x.found = true;
    const headers = classifyErrno(err.code) === 'busy' ? { 'Retry-After': '1' } : undefined;
    // The error object only for a next(err) that will see it (a 404 that
    // falls through, the common case, builds nothing).
    const forwarded = x.next !== undefined && (x.found || !this.opts.fallthrough);
    this.refuse(x, status, forwarded ? fromErrno(err, status, headers) : undefined, headers);
  }
}

function releaseBoth(original: FileVersion, variant: FileVersion | null): void {
  original.release();
  if (variant !== null) variant.release();
}

/**
 * serve-static "makes sure redirect occurs at mount": mounted at /static, a
 * request for /static arrives as `/` and must redirect to /static/.
 */
function isMountRoot(url: string, originalUrl: string): boolean {
  return urlPathname(url) === '/' && !urlPathname(originalUrl).endsWith('/');
}
