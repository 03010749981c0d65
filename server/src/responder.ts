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
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { openCompressCache, type CompressCache } from './compress-cache';
import { ensureStrongEtag } from './digest';
import { isQueued, whenTurn, type Transports } from './engines';
import { classifyErrno, enoent, statusForErrno } from './errors';
import { openFile, type FileVersion } from './file-table';
import { cacheControlValue, HeadCache, presetOf, representationOf, setFields, typeOf, type HeaderTarget } from './head';
import { listingHtml, listingJson, readListing, visibleEntries } from './listing';
import { fromErrno, HttpError } from './http-error';
import type { ContentCoding } from './negotiate';
import type { ResolvedOptions } from './options';
import { headerString, plan, type PlanOptions } from './plan';
import { SUFFIX, VariantIndex, type Variants } from './precompressed';
import { PathResolver, redirectLocation, urlPathname, type Resolution } from './resolve';
import { respond, type Outlet } from './respond';
import {
  CORS_FIELDS,
  corsFieldsFor,
  fieldRecord,
  sendError,
  sendGenerated,
  sendMethodNotAllowed,
  sendOptions,
  sendRedirect,
  sendRuleRedirect,
  sendHealth,
  sendServeError,
  type Preflight,
} from './responses';
import { candidatePaths, NO_HEADERS, type RuleHeaders } from './rules';
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
  /** The request's decoded path (what rules, listings and the SPA rule look at). */
  decoded = '/';
  /** The 404 fallbacks (SPA index, 404 page) have been tried: the next 404 is final. */
  fellBack = false;
  /** What this response is beyond a plain file: the SPA shell (200, no-cache) or the 404 page. */
  role: 'file' | 'shell' | 'not-found' = 'file';
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
/** What a file has when precompressed siblings are not looked for. */
const NO_SIBLINGS: Variants = { codings: [], mask: 0, seenAt: 0 };
const NO_REQUEST_HEADERS = Object.freeze({});
const NO_FIELDS: readonly string[] = Object.freeze([]);
/** What an origin list puts on every response: the answer depends on the request's Origin. */
const VARY_ORIGIN: readonly string[] = ['Vary', 'Origin'];

export class Responder {
  private readonly opts: ResolvedOptions;
  private readonly root: string;
  private readonly resolver: PathResolver;
  private readonly variants: VariantIndex;
  private readonly guard: SymlinkGuard;
  private readonly heads: HeadCache;
  private readonly planOptions: PlanOptions;
  private readonly compress: CompressCache | null;
  /** Fields every answer carries (CORS, then the headers option's everywhere fields). */
  private readonly extra: readonly string[];
  /** The headers option's everywhere fields alone (what a 405 or an OPTIONS answer carries). */
  private readonly everywhere: readonly string[];
  // serve-static mounted at /static and asked for /static: send resolves ''
  // to root itself, which is a directory (a redirect) or a file (served).
  private readonly mountRoot: Resolution;
  /** Whether the server is closing: the health path then answers 503 (createServer sets this). */
  draining: () => boolean = () => false;
  /**
   * Where a request without a file goes instead of the 404 answer (a miss
   * before any file was found, or a method other than GET and HEAD): the
   * fallback proxy. Standalone only (never under an adapter's next()).
   */
  passMiss: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  /** Each route's candidate paths, made once (a route is remembered per path, and so is this). */
  private readonly candidates = new WeakMap<object, readonly string[]>();

  constructor(
    root: string,
    opts: ResolvedOptions,
    private readonly transports: Transports,
  ) {
    this.opts = opts;
    this.root = root;
    this.resolver = new PathResolver(root, { dotfiles: opts.dotfiles });
    this.variants = new VariantIndex(opts.precompressed, opts.precompressedStar);
    this.guard = new SymlinkGuard(root, opts.symlinks);
    this.everywhere = opts.rules?.everywhere ?? [];
    this.extra = withFields(!opts.cors ? [] : opts.corsOrigins === null ? CORS_FIELDS : VARY_ORIGIN, this.everywhere);
    const cacheControl = opts.cacheControl ? cacheControlValue(opts.maxAge, opts.immutable) : null;
    this.heads = new HeadCache({
      acceptRanges: opts.acceptRanges,
      cacheControl,
      contentType: opts.contentType,
      lastModified: opts.lastModified,
      etag: opts.etag,
      strongEtag: opts.strongEtag,
      extra: this.extra,
      types: opts.types,
    });
    this.planOptions = { policy: this.heads.policy, maxRanges: opts.maxRanges, unsatisfiableWithBody: opts.flavor === 'serve-handler' };
    this.mountRoot = { kind: 'path', path: root, trailingSlash: false, decoded: '/' };
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
    if (this.opts.health !== null && this.isHealthCheck(req, url)) {
      claimant?.hijack();
      return sendHealth(res, this.draining(), this.everywhere);
    }
    const x = new Exchange(req, res, next, originalUrl, claimant);
    if (req.method !== 'GET' && req.method !== 'HEAD' && !this.opts.anyMethod) return this.otherMethod(x);
    const resolution = originalUrl !== url && isMountRoot(url, originalUrl) ? this.mountRoot : this.resolver.resolve(url);
    if (resolution.kind === 'error') return this.refuse(x, resolution.status);
    x.decoded = resolution.decoded;
    if (this.opts.routed) return this.route(x, resolution.path, resolution.decoded);
    if (resolution.trailingSlash && this.opts.index.length > 0) {
      const dir = resolution.path;
      const candidates = this.opts.index.map((name) => path.join(dir, name));
      return this.openFirst(x, candidates, 0, null, (lastErr) => this.listOrRefuse(x, dir, lastErr));
    }
    this.openTarget(x, resolution.path, resolution.trailingSlash);
  };

  /** A GET or HEAD of the health path (its query string aside). */
  private isHealthCheck(req: IncomingMessage, url: string): boolean {
    const health = this.opts.health as string;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    return url === health || (url.startsWith(health) && url[health.length] === '?');
  }

  /** OPTIONS (a CORS preflight when CORS is on) and every method but GET and HEAD. */
  private otherMethod(x: Exchange): void {
    const { req, res, next } = x;
    if (next !== undefined && this.opts.fallthrough) return next();
    x.claim();
    const preflight = this.opts.cors && req.method === 'OPTIONS';
    if (this.passMiss !== null && next === undefined && !preflight) return this.passMiss(req, res);
    if (preflight) {
      const requestMethod = headerString(req.headers['access-control-request-method']);
      return sendOptions(res, requestMethod, headerString(req.headers['access-control-request-headers']), this.everywhere, this.preflightFor(req));
    }
    sendMethodNotAllowed(res, this.opts.cors ? 'GET, HEAD, OPTIONS' : 'GET, HEAD', this.everywhere);
  }

  /** How a preflight from this request's Origin is answered. */
  private preflightFor(req: IncomingMessage): Preflight {
    const { corsOrigins, corsAllowHeaders } = this.opts;
    if (corsOrigins === null) return { allowOrigin: '*', allowHeaders: corsAllowHeaders, varyOrigin: false };
    const origin = headerString(req.headers.origin);
    return { allowOrigin: origin !== undefined && corsOrigins.has(origin) ? origin : null, allowHeaders: corsAllowHeaders, varyOrigin: true };
  }

  /** The CORS fields for a request from a listed origin ([] for any other, and without a list: they are in `extra`). */
  private listedCors(req: IncomingMessage): readonly string[] {
    const origins = this.opts.corsOrigins;
    if (origins === null || !this.opts.cors) return NO_FIELDS;
    const origin = headerString(req.headers.origin);
    return origin !== undefined && origins.has(origin) ? corsFieldsFor(origin) : NO_FIELDS;
  }

  /** The fields an answer sluice writes itself carries: `extra`, and CORS's for a listed origin. */
  private fieldsFor(x: Exchange): readonly string[] {
    const cors = this.listedCors(x.req);
    return cors.length === 0 ? this.extra : [...this.extra, ...cors];
  }

  /** serve's routing: a redirect, or the first of the paths the rules name that exists. */
  private route(x: Exchange, target: string, decoded: string): void {
    const rules = this.opts.rules;
    if (rules === null) return this.openTarget(x, target, false);
    const route = rules.route(decoded);
    if (route.redirect !== null) {
      x.claim();
      return sendRuleRedirect(x.res, route.redirect.status, route.redirect.location, this.fieldsFor(x));
    }
    let candidates = this.candidates.get(route);
    if (candidates === undefined) {
      candidates = candidatePaths(this.relativeOf(target) || '/', decoded, route).map((p) => this.absoluteOf(p));
      this.candidates.set(route, candidates);
    }
    this.openRouted(x, candidates, 0);
  }

  /** The first candidate that exists, file or directory; a miss only for ENOENT/ENOTDIR (anything else is an error). */
  private openRouted(x: Exchange, candidates: readonly string[], i: number): void {
    if (i >= candidates.length) return this.refuse(x, 404);
    openFile(candidates[i], (err, file) => {
      if (err || file === undefined) {
        if (err === null || err.code === 'ENOENT' || err.code === 'ENOTDIR') return this.openRouted(x, candidates, i + 1);
        return this.refuseErrno(x, err);
      }
      if (file.stat.isDirectory()) return this.onRoutedDirectory(x, file);
      this.onFound(x, file);
    });
  }

  /** A routed request that names a directory: its one file (renderSingle), its listing, or 404. */
  private onRoutedDirectory(x: Exchange, dir: FileVersion): void {
    if (!this.opts.renderSingle) return this.listDirectory(x, dir);
    readListing(dir.path, (err, entries) => {
      if (err || entries === undefined || entries.length !== 1 || entries[0].directory) return this.listDirectory(x, dir);
      dir.release();
      this.openTarget(x, path.join(dir.path, entries[0].name), false);
    });
  }

  /** The request's own path: a file, a directory (redirect or 404), or a miss that send's extensions may rescue. */
  private openTarget(x: Exchange, target: string, trailingSlash: boolean): void {
    openFile(target, (err, file) => {
      if (err || file === undefined) {
        const { extensions } = this.opts;
        if (err?.code === 'ENOENT' && extensions.length > 0 && !trailingSlash && path.extname(target) === '') {
          const candidates = extensions.map((ext) => `${target}.${ext}`);
          return this.openFirst(x, candidates, 0, err, (lastErr) => this.refuseErrno(x, lastErr ?? enoent()));
        }
        return this.refuseErrno(x, err ?? enoent());
      }
      if (file.stat.isDirectory()) return this.onDirectory(x, file, trailingSlash);
      this.onFound(x, file);
    });
  }

  /** The first of `candidates` that opens and is not a directory (send's index and extensions); `miss` when none does. */
  private openFirst(
    x: Exchange,
    candidates: readonly string[],
    i: number,
    lastErr: NodeJS.ErrnoException | null,
    miss: (lastErr: NodeJS.ErrnoException | null) => void,
  ): void {
    if (i >= candidates.length) return miss(lastErr);
    openFile(candidates[i], (err, file) => {
      if (err || file === undefined) return this.openFirst(x, candidates, i + 1, err ?? enoent(), miss);
      if (file.stat.isDirectory()) {
        file.release();
        return this.openFirst(x, candidates, i + 1, null, miss);
      }
      this.onFound(x, file);
    });
  }

  /** A directory with none of its index files: its listing when allowed, else the index's miss. */
  private listOrRefuse(x: Exchange, dir: string, lastErr: NodeJS.ErrnoException | null): void {
    if (this.opts.listing === null) return lastErr ? this.refuseErrno(x, lastErr) : this.refuse(x, 404);
    openFile(dir, (err, file) => {
      if (err || file === undefined || !file.stat.isDirectory()) {
        file?.release();
        return this.refuseErrno(x, err ?? lastErr ?? enoent());
      }
      this.listDirectory(x, file);
    });
  }

  /** The listing of `dir` (whose reference this releases), when listings are allowed for the request's path; else 404. */
  private listDirectory(x: Exchange, dir: FileVersion): void {
    const listing = this.opts.listing;
    if (listing === null || !listing.appliesTo(x.decoded)) {
      dir.release();
      return this.refuse(x, 404);
    }
    this.guarded(dir, (ok) => {
      dir.release();
      if (!ok) return this.refuse(x, 403);
      readListing(dir.path, (err, entries) => {
        if (err || entries === undefined) return this.refuseErrno(x, err ?? enoent());
        const visible = visibleEntries(entries, { dotfiles: this.opts.dotfiles === 'allow', unlisted: this.opts.unlisted });
        const relative = this.relativeOf(dir.path) || '/';
        const json = acceptsJson(x.req);
        x.found = true;
        x.claim();
        sendGenerated(x.res, json ? listingJson(relative, visible) : listingHtml(relative, visible), json ? 'json' : 'html', this.fieldsFor(x));
      });
    });
  }

  /**
   * A directory asked for (its index, if any, did not answer): the
   * framework's answer (Fastify's listing), the listing or a 404 with a
   * trailing slash or without redirects, its index as if slashed
   * (@fastify/static), or the redirect to its slash form.
   */
  private onDirectory(x: Exchange, dir: FileVersion, trailingSlash: boolean): void {
    if (x.claimant?.directory?.(dir.path, trailingSlash) === true) return dir.release();
    const slashless = this.opts.slashless;
    if (trailingSlash || slashless === 'not-found') return this.listDirectory(x, dir);
    dir.release();
    if (slashless === 'index') {
      const candidates = this.opts.index.map((name) => path.join(dir.path, name));
      return this.openFirst(x, candidates, 0, null, (lastErr) => (lastErr ? this.refuseErrno(x, lastErr) : this.refuse(x, 404)));
    }
    const location = redirectLocation(x.originalUrl);
    if (x.claimant?.redirect !== undefined) return x.claimant.redirect(location);
    x.claim();
    sendRedirect(x.res, location, fieldRecord(this.fieldsFor(x)));
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
        return this.refuse(x, this.opts.flavor === 'serve-handler' ? 404 : 403);
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

  /** Hashes the bytes first when ETags are strong (once per version), then answers. */
  private answer(x: Exchange, original: FileVersion, variant: FileVersion | null, coding: ContentCoding | null, vary: boolean, validated?: FileVersion): void {
    // The hash is of the bytes the validators describe (the original, for a cached variant).
    const hashed = validated ?? variant ?? original;
    if (!this.opts.strongEtag || hashed.strongEtag !== null) return this.answerNow(x, original, variant, coding, vary, validated);
    ensureStrongEtag(hashed, original.path, (err) => {
      if (err === null) return this.answerNow(x, original, variant, coding, vary, validated);
      releaseBoth(original, variant);
      this.refuse(x, 500, err);
    });
  }

  /**
   * A file with no sibling: its cached variant when ready (else identity now,
   * the variant made in the background), when compressing it is worth it.
   */
  private fromCache(x: Exchange, file: FileVersion): void {
    const cache = this.compress;
    if (cache === null || !cache.accepts(file, typeOf(file, this.opts.types))) return this.answer(x, file, null, null, false);
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
  private answerNow(
    x: Exchange,
    original: FileVersion,
    variant: FileVersion | null,
    coding: ContentCoding | null,
    vary: boolean,
    validated?: FileVersion,
  ): void {
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
    const omit = this.applyRules(x, original);
    const preset = presetOf(x.fields) ?? (omit.length > 0 ? {} : null);
    const rep = representationOf(original, version, coding, vary, validated ?? version, this.opts.strongEtag, this.opts.types);
    // The original's fd is not needed past this point: its name gave the type.
    if (variant !== null) original.release();
    const lists = preset === null ? this.heads.lists(rep) : null;
    // The 404 page answers a miss: no precondition or range applies to it.
    const headers = x.role === 'not-found' ? NO_REQUEST_HEADERS : req.headers;
    const status = x.fields.statusCode;
    const planned = plan({ method: req.method ?? 'GET', headers, status, rep, lists, preset, omit }, this.planOptions);
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

  /**
   * The header rules for the file, and what the response's role adds (the
   * SPA shell must not be kept stale; the 404 page is a 404): set like
   * middleware's headers, before the plan. Returns the fields rules remove.
   */
  private applyRules(x: Exchange, original: FileVersion): readonly string[] {
    if (x.role === 'shell') x.res.setHeader('Cache-Control', 'no-cache');
    else if (x.role === 'not-found') x.res.statusCode = 404;
    setFields(x.res, this.listedCors(x.req));
    const rules = this.opts.rules;
    if (rules === null || !rules.hasHeaders) return NO_HEADERS.removed;
    const found = rules.headersFor(this.relativeOf(original.path));
    setFields(x.res, found.fields);
    return found.removed;
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

  /** A miss with a fallback configured: the SPA shell for a path without an extension, else the 404 page. */
  private fallBack(x: Exchange): boolean {
    if (x.fellBack) return false;
    const single = this.opts.single && path.extname(x.decoded) === '';
    // serve answers a client asking for JSON with a JSON error, never the page.
    const page = this.opts.notFound !== null && !(this.opts.flavor === 'serve-handler' && acceptsJson(x.req));
    if (!single && !page) return false;
    x.fellBack = true;
    const notFound = (): void => {
      if (!page || this.opts.notFound === null) return this.refuse(x, 404);
      x.role = 'not-found';
      this.openFallback(x, this.absoluteOf(`/${this.opts.notFound}`));
    };
    if (!single) {
      notFound();
      return true;
    }
    x.role = 'shell';
    this.openFallback(x, this.absoluteOf(`/${this.opts.index[0] ?? 'index.html'}`), notFound);
    return true;
  }

  private openFallback(x: Exchange, target: string, otherwise: () => void = () => this.refuse(x, 404)): void {
    openFile(target, (err, file) => {
      if (err || file === undefined || !file.stat.isFile()) {
        file?.release();
        return otherwise();
      }
      this.onFound(x, file);
    });
  }

  /** A refusal: the 404 fallbacks, fall through, next(err), or an error page. */
  private refuse(x: Exchange, status: number, err?: Error, headers?: Record<string, string>): void {
    if (status === 404 && !x.found && this.passMiss !== null && x.next === undefined) {
      x.claim();
      return this.passMiss(x.req, x.res);
    }
    if (status === 404 && !x.found && this.fallBack(x)) return;
    if (x.next !== undefined) {
      // serve-static: before a file is found, client errors fall through;
      // after, and without fallthrough, every error goes to next(err).
      if (!x.found && this.opts.fallthrough && status < 500) return x.next();
      return x.next(err ?? new HttpError(status, undefined, headers));
    }
    x.claim();
    this.errorPage(x, status, headers);
  }

  /** sluice's error page, or serve's (JSON when asked for; a traversal is its 400), with CORS and the path's header rules. */
  private errorPage(x: Exchange, status: number, headers: Record<string, string> | undefined): void {
    const rules = this.opts.rules;
    const ruled: RuleHeaders = rules !== null && rules.hasHeaders ? rules.headersFor(x.decoded) : NO_HEADERS;
    const own = this.fieldsFor(x);
    const fields = ruled.fields.length === 0 ? own : [...own, ...ruled.fields];
    if (this.opts.flavor === 'serve-handler') {
      const json = acceptsJson(x.req);
      return sendServeError(x.res, status === 403 ? 400 : status, json, [...fields, ...Object.entries(headers ?? {}).flat()]);
    }
    sendError(x.res, status, fields.length === 0 ? headers : { ...fieldRecord(fields), ...headers });
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

  /** `/srv/public/a/b.txt` → `/a/b.txt` ('' for root itself). */
  private relativeOf(absolute: string): string {
    if (this.root === '/') return absolute === '/' ? '' : absolute;
    return absolute.slice(this.root.length);
  }

  /** `/a/b.txt` → `/srv/public/a/b.txt` (`relative` is absolute and normalised: it cannot climb). */
  private absoluteOf(relative: string): string {
    return this.root === '/' ? relative : this.root + (relative === '/' ? '' : relative);
  }
}

/** serve's test: JSON listings and errors for a client whose Accept names application/json. */
function acceptsJson(req: IncomingMessage): boolean {
  return headerString(req.headers.accept)?.includes('application/json') === true;
}

/** `base` ([name, value, …]) with `added` set over it: a field of `added` replaces one of the same name. */
function withFields(base: readonly string[], added: readonly string[]): readonly string[] {
  if (added.length === 0) return base;
  const names = new Set(added.filter((_f, i) => i % 2 === 0).map((n) => n.toLowerCase()));
  const kept = base.filter((_f, i) => !names.has(base[i - (i % 2)].toLowerCase()));
  return [...kept, ...added];
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
