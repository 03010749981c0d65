// "What answer", once the finder (finder.ts) knows which file a request
// names or why there is none: the plan and the response for a file, and
// every answer sluice writes itself (refusals and error pages, listings,
// redirects, a 405 or a CORS preflight), each with the fields the options
// put on every response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deliver } from './deliver';
import { ensureStrongEtag } from './digest';
import type { Transports } from './engines';
import { classifyErrno, statusForErrno } from './errors';
import { acceptsJson, type Exchange, type Found } from './exchange';
import type { FileVersion } from './file-table';
import { cacheControlValue, HeadCache, mergeVary, presetOf, representationOf, setFields } from './head';
import { fromErrno, HttpError } from './http-error';
import { listingHtml, listingJson, type ListingEntry } from './listing';
import type { ResolvedOptions } from './options';
import { headerString, plan, type PlanOptions } from './plan';
import { relativeToRoot } from './resolve';
import {
  CORS_FIELDS,
  corsFieldsFor,
  fieldRecord,
  sendError,
  sendGenerated,
  sendHealth,
  sendMethodNotAllowed,
  sendOptions,
  sendRedirect,
  sendRuleRedirect,
  sendServeError,
  type Preflight,
} from './responses';
import { NO_HEADERS, type RuleHeaders } from './rules';

const HEADERS_SENT_MESSAGE = "Can't set headers after they are sent.";
const NO_REQUEST_HEADERS = Object.freeze({});
const NO_FIELDS: readonly string[] = Object.freeze([]);
/** What an origin list puts on every response: the answer depends on the request's Origin. */
const VARY_ORIGIN: readonly string[] = ['Vary', 'Origin'];

/** The 404 fallbacks (SPA shell, 404 page): true when one of them now answers. */
export type FallBack = (x: Exchange) => boolean;

export class Answers {
  private readonly heads: HeadCache;
  private readonly planOptions: PlanOptions;
  /** Fields every answer carries (CORS, then the headers option's everywhere fields). */
  readonly extra: readonly string[];
  /** The headers option's everywhere fields alone (what a 405, an OPTIONS answer or the health path carries). */
  readonly everywhere: readonly string[];
  /**
   * Where a request without a file goes instead of the 404 answer (a miss
   * before any file was found, or a method other than GET and HEAD): the
   * fallback proxy. Standalone only (never under an adapter's next()).
   */
  passMiss: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;

  constructor(
    private readonly root: string,
    private readonly opts: ResolvedOptions,
    private readonly transports: Transports,
    private readonly fallBack: FallBack,
  ) {
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
    this.planOptions = { policy: this.heads.policy, maxRanges: opts.maxRanges, unsatisfiableWithBody: opts.dialect.unsatisfiableWithBody };
  }

  /** The file `found` names: hashed first when ETags are strong (once per version), then planned and sent. */
  file(x: Exchange, found: Found): void {
    // The hash is of the bytes the validators describe (the original, for a cached variant).
    const hashed = found.validated ?? found.variant ?? found.original;
    if (!this.opts.strongEtag || hashed.strongEtag !== null) return this.planAndSend(x, found);
    ensureStrongEtag(hashed, found.original.path, (err) => {
      if (err === null) return this.planAndSend(x, found);
      releaseFound(found);
      this.refuse(x, 500, err);
    });
  }

  /** The health path: 200, or 503 while the server drains. */
  health(x: Exchange, draining: boolean): void {
    x.claim();
    sendHealth(x.res, draining, this.everywhere);
  }

  /** OPTIONS (a CORS preflight when CORS is on) and every method but GET and HEAD. */
  otherMethod(x: Exchange): void {
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

  /** The listing of the directory at `relative` (HTML, or JSON when asked for). */
  listing(x: Exchange, relative: string, entries: readonly ListingEntry[]): void {
    const json = acceptsJson(x.req);
    x.found = true;
    x.claim();
    sendGenerated(x.res, json ? listingJson(relative, entries) : listingHtml(relative, entries), json ? 'json' : 'html', this.fieldsFor(x));
  }

  /** The redirect to a directory's slash form. */
  slashRedirect(x: Exchange, location: string): void {
    if (x.claimant?.redirect !== undefined) return x.claimant.redirect(location);
    x.claim();
    sendRedirect(x.res, location, fieldRecord(this.fieldsFor(x)));
  }

  /** A redirect a serve.json rule names. */
  ruleRedirect(x: Exchange, status: number, location: string): void {
    x.claim();
    sendRuleRedirect(x.res, status, location, this.fieldsFor(x));
  }

  /** A refusal: the 404 fallbacks, fall through, next(err), or an error page. */
  refuse(x: Exchange, status: number, err?: Error, headers?: Record<string, string>): void {
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

  /** A file-system error before the head: 404 for a missing file, else 403/500/503. */
  refuseErrno(x: Exchange, err: NodeJS.ErrnoException): void {
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

  /**
   * Plans and writes the answer. A variant (with its coding) replaces the
   * original's bytes; the original still names the type.
   */
  private planAndSend(x: Exchange, found: Found): void {
    const { req, res } = x;
    const { original, variant } = found;
    const version = variant ?? original;
    if (res.headersSent) {
      // Someone else answered meanwhile (middleware chains can).
      releaseFound(found);
      return this.refuse(x, 500, new HttpError(500, HEADERS_SENT_MESSAGE));
    }
    const failed = this.applySetHeaders(x, original);
    if (failed !== null) {
      releaseFound(found);
      return this.refuse(x, 500, failed);
    }
    const omit = this.applyRules(x, original);
    const preset = presetOf(x.fields) ?? (omit.length > 0 ? {} : null);
    const rep = representationOf(original, version, found.coding, found.vary, found.validated ?? version, this.opts.strongEtag, this.opts.types);
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
    const transport = this.transports.transportOf(req, res);
    const visible = x.adapted || preset !== null || this.opts.setHeaders !== null || !transport.headAsList;
    deliver(this.transports, req, res, planned, version, visible, x, transport);
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
    const found = rules.headersFor(relativeToRoot(this.root, original.path));
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

  /** sluice's error page, or serve's (JSON when asked; a traversal is its 400), with CORS and the path's header rules. */
  private errorPage(x: Exchange, status: number, headers: Record<string, string> | undefined): void {
    const rules = this.opts.rules;
    const ruled: RuleHeaders = rules !== null && rules.hasHeaders ? rules.headersFor(x.decoded) : NO_HEADERS;
    const own = this.fieldsFor(x);
    const fields = ruled.fields.length === 0 ? own : [...own, ...ruled.fields];
    if (this.opts.dialect.serveErrors) {
      const json = acceptsJson(x.req);
      return sendServeError(x.res, status === 403 ? 400 : status, json, [...fields, ...Object.entries(headers ?? {}).flat()]);
    }
    sendError(x.res, status, fields.length === 0 ? headers : { ...fieldRecord(fields), ...headers });
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
}

/** `base` ([name, value, …]) with `added` set over it: a field of `added` replaces one of the same name. */
function withFields(base: readonly string[], added: readonly string[]): readonly string[] {
  if (added.length === 0) return base;
  const names = new Set(added.filter((_f, i) => i % 2 === 0).map((n) => n.toLowerCase()));
  const kept = base.filter((_f, i) => !names.has(base[i - (i % 2)].toLowerCase()));
  // An added Vary joins sluice's (Vary: Origin for a CORS list) instead of replacing it.
  const ours = base.findIndex((f, i) => i % 2 === 0 && f.toLowerCase() === 'vary');
  const theirs = added.findIndex((f, i) => i % 2 === 0 && f.toLowerCase() === 'vary');
  if (ours < 0 || theirs < 0) return [...kept, ...added];
  const merged = [...added];
  merged[theirs + 1] = mergeVary(base[ours + 1], added[theirs + 1]);
  return [...kept, ...merged];
}

/** Gives back the descriptors a found file holds (the answer did not happen). */
export function releaseFound(found: Found): void {
  found.original.release();
  if (found.variant !== null) found.variant.release();
}
