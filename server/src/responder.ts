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
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { Transports } from './engines';
import { classifyErrno, enoent, statusForErrno } from './errors';
import { openFile, type FileVersion } from './file-table';
import { cacheControlValue, HeadCache, presetOf, representationOf, setFields, type HeaderTarget } from './head';
import { fromErrno, HttpError } from './http-error';
import type { ContentCoding } from './negotiate';
import type { ResolvedOptions } from './options';
import { headerString, plan, type PlanOptions } from './plan';
import { SUFFIX, VariantIndex, type Variants } from './precompressed';
import { PathResolver, redirectLocation, urlPathname, type Resolution } from './resolve';
import { respond, type Outlet } from './respond';
import { sendError, sendMethodNotAllowed, sendRedirect } from './responses';
import { SymlinkGuard } from './symlinks';

/** Connect-style continuation: absent for the standalone server. */
export type Next = (err?: unknown) => void;

/**
 * A framework around the response (Fastify's reply, through an adapter).
 * `hijack()` is told once, just before the responder first writes to the
 * response (the framework lets go of it); the optional members hand the
 * framework the parts of the lifecycle it owns.
 */
export interface Claimant {
  hijack(): unknown;
  /** Where the head's fields are kept until the head is written; the response itself when absent. */
  readonly fields?: HeaderTarget;
  /** Runs, instead of the setHeaders option, once the file is found and before the answer is planned. */
  setHeaders?(path: string, stat: Stats): void;
  /** A directory was asked for and no index answered it: true if the framework answered (a listing). */
  directory?(path: string, trailingSlash: boolean): boolean;
  /** Sends the redirect to a directory's slash form itself. */
  redirect?(location: string): void;
  /**
   * When present, answers are not written but relayed: the status and
   * fields are set on `fields` and this gets the body as a stream (empty
   * when there is none) to send through the framework, so its hooks see
   * the payload.
   */
  relay?(body: Readable, path: string): void;
}

/** Per-request state, passed along instead of closed over. */
class Exchange implements Outlet {
  /** serve-static's 'file' event has fired: from now on every error goes to next(err). */
  found = false;
  readonly fields: HeaderTarget;
  readonly relay: ((body: Readable, path: string) => void) | null;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly next: Next | undefined,
    readonly originalUrl: string,
    readonly claimant: Claimant | null,
  ) {
    this.fields = claimant?.fields ?? res;
    this.relay = claimant?.relay !== undefined ? claimant.relay.bind(claimant) : null;
  }

  /** Whether anything but sluice can see the response (an adapter around it). */
  get adapted(): boolean {
    return this.next !== undefined || this.claimant !== null;
  }

  claim(): void {
    if (this.claimant !== null) this.claimant.hijack();
  }
}

const HEADERS_SENT_MESSAGE = "Can't set headers after they are sent.";

export class Responder {
  private readonly opts: ResolvedOptions;
  private readonly resolver: PathResolver;
  private readonly variants: VariantIndex;
  private readonly guard: SymlinkGuard;
  private readonly heads: HeadCache;
  private readonly planOptions: PlanOptions;
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
    this.variants = new VariantIndex(opts.precompressed, opts.precompressedStar);
    this.guard = new SymlinkGuard(root, opts.symlinks);
    const cacheControl = opts.cacheControl ? cacheControlValue(opts.maxAge, opts.immutable) : null;
    const { acceptRanges, contentType, lastModified, etag } = opts;
    this.heads = new HeadCache({ acceptRanges, cacheControl, contentType, lastModified, etag });
    this.planOptions = { policy: this.heads.policy, maxRanges: opts.maxRanges };
    this.mountRoot = { kind: 'path', path: root, trailingSlash: false };
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
    const x = new Exchange(req, res, next, originalUrl, claimant);
    if (req.method !== 'GET' && req.method !== 'HEAD' && !this.opts.anyMethod) {
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
        return this.onDirectory(x, target, trailingSlash);
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

  private onDirectory(x: Exchange, dir: string, trailingSlash: boolean): void {
    if (x.claimant?.directory?.(dir, trailingSlash) === true) return;
    const slashless = this.opts.slashless;
    if (trailingSlash || slashless === 'not-found') return this.refuse(x, 404);
    if (slashless === 'index') {
      const candidates = this.opts.index.map((name) => path.join(dir, name));
      return this.openFirst(x, candidates, 0, null);
    }
    const location = redirectLocation(x.originalUrl);
    if (x.claimant?.redirect !== undefined) return x.claimant.redirect(location);
    x.claim();
    sendRedirect(x.res, location);
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
      if (!this.variants.enabled) return this.answer(x, file, null, null, false);
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
    if (coding === null) return this.answer(x, file, null, null, vary);
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
   * Plans and writes the answer. `variant` (with its `coding`) replaces the
   * original's bytes; the original still names the type.
   */
  private answer(x: Exchange, original: FileVersion, variant: FileVersion | null, coding: ContentCoding | null, vary: boolean): void {
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
    const preset = presetOf(x.fields);
    const rep = representationOf(original, version, coding, vary);
    // The original's fd is not needed past this point: its name gave the type.
    if (variant !== null) original.release();
    const lists = preset === null ? this.heads.lists(rep) : null;
    const status = x.fields.statusCode;
    const planned = plan({ method: req.method ?? 'GET', headers: req.headers, status, rep, lists, preset }, this.planOptions);
    if (planned.kind === 'refuse') {
      version.release();
      // Under middleware the response next(err) sees carries the
      // representation's fields, as with send.
      if (x.next !== undefined && x.fields === res) {
        setFields(res, planned.fields);
        for (const [name, value] of Object.entries(planned.headers ?? {})) res.setHeader(name, value);
      }
      return this.refuse(x, planned.status, undefined, planned.headers);
    }
    // Nothing but sluice can see or change the response: its head can go as one list.
    const visible = x.adapted || preset !== null || this.opts.setHeaders !== null || !this.transports.isPlainHttp1(req, res);
    respond(this.transports, req, res, planned, version, visible, x);
  }

  /** Runs the user's setHeaders (or the framework's); returns what it threw (a 500, or next(err)), never lets it crash the process. */
  private applySetHeaders(x: Exchange, original: FileVersion): Error | null {
    const setHeaders = this.opts.setHeaders;
    const claimant = x.claimant;
    const own = claimant?.setHeaders !== undefined;
    if (setHeaders === null && !own) return null;
    try {
      if (own) claimant?.setHeaders?.(original.path, original.stat);
      else setHeaders?.(x.res, original.path, original.stat);
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
