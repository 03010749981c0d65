// Options are validated and normalised once, at construction; the request
// path only reads the resolved form. Defaults, coercions and the TypeErrors
// for bad values are serve-static 2.x's (and send 1.x's), so an options
// object written for serve-static means the same thing here.
import { basicAuth, type AuthOption, type BasicAuth } from './auth';
import type { Stats } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { EngineName } from './engines/types';
import type { ContentCoding } from './negotiate';
import type { DotfilePolicy } from './resolve';
import type { TypeOverrides } from './head';
import * as os from 'node:os';
import * as mime from 'mime-types';
import * as path from 'node:path';
import { Applicability, SourcePattern } from './globs';
import { RuleSet, type HeaderRule, type RedirectRule, type RewriteRule } from './rules';

/** What to do with a symbolic link met on the way to a file below root. */
export type SymlinkPolicy = 'follow' | 'deny' | 'within-root';

export interface SluiceOptions {
  /** 'auto' (default) picks the fastest available engine. */
  engine?: EngineName | 'auto';
  acceptRanges?: boolean;
  cacheControl?: boolean;
  /** Set Content-Type from the file name (default true; send's option). */
  contentType?: boolean;
  dotfiles?: DotfilePolicy;
  /** true: weak size-mtime ETags (serve-static's); 'strong': a SHA-1 of the bytes, computed once per file version (serve's `etag: true`). */
  etag?: boolean | 'strong';
  /** Extensions tried when a path has none and is not found, e.g. ['html']. */
  extensions?: string[] | string | false;
  /** Middleware only: pass 404s and other methods to next(). */
  fallthrough?: boolean;
  immutable?: boolean;
  index?: string[] | string | false;
  lastModified?: boolean;
  /** Milliseconds, or a string such as '1d' or '2h' (the `ms` package's syntax). */
  maxAge?: number | string;
  /** serve-static's lower-case alias of maxAge. */
  maxage?: number | string;
  redirect?: boolean;
  setHeaders?: (res: ServerResponse, path: string, stat: Stats) => void;
  /**
   * Bytes a transfer sends per wake-up before other connections get a turn
   * (at least MIN_MAX_CHUNK: a page; less would only add wake-ups).
   */
  maxChunk?: number;
  /**
   * Files of at most this many bytes are read once per version into memory
   * and written with the head in one writev, whatever the engine: below a
   * few tens of KiB the syscalls, not the bytes, are the cost. Default
   * 16384 under engine 'auto' and 'io_uring' (where a small response would
   * otherwise cost a ring round trip through a kernel worker), 65536 on
   * createSecureServer with no engine named (TLS copies every body; a read
   * per request costs more than the encryption), 0 under 'sendfile',
   * 'splice' and 'copy' (the named engine moves every body).
   * 0 turns it off; at most MAX_SMALL_FILE_MAX (1 MiB).
   */
  smallFileMax?: number;
  /**
   * Milliseconds a body transfer may go without moving a byte (a client
   * that stopped reading) before its connection is closed; 0 disables.
   * Default 60000 (nginx's send_timeout).
   */
  sendTimeout?: number;
  /** Most parts a multi-range request may ask for (after coalescing). */
  maxRanges?: number;
  /**
   * Serve `x.br` / `x.zst` / `x.gz` next to `x` to clients that accept them.
   * true (default) = ['br', 'zstd', 'gzip'], in that order of preference on
   * ties; an array picks codings and their order ('deflate' for `x.deflate`
   * too); false turns it off.
   */
  precompressed?: boolean | ContentCoding[];
  /**
   * 'follow' (default, as serve-static): links are followed anywhere.
   * 'within-root': a file whose real path leaves the real root is refused (403).
   * 'deny': a file reached through any link below root is refused (403).
   */
  symlinks?: SymlinkPolicy;
  /**
   * Single-page app: a request for a path with no file behind it and no
   * file extension gets the root's index.html (with `Cache-Control:
   * no-cache`); a missing `/app.js` stays 404.
   */
  single?: boolean;
  /**
   * true: `Access-Control-Allow-Origin: *` on every response, and answers to
   * CORS preflights. `{ origins: ['https://app.example'] }`: the request's
   * Origin reflected when listed (none otherwise), with `Vary: Origin`;
   * `allowHeaders` is what a preflight's Access-Control-Allow-Headers
   * names (default: the headers the preflight asks for).
   */
  cors?: boolean | CorsOption;
  /** A page below root served with status 404 for every miss (the CLI uses '404.html'). */
  notFound?: string | false;
  /** Directory listings: true, or a list of path globs where they are allowed (serve.json's `directoryListing`). */
  listing?: boolean | string[];
  /** Names (globs) a listing never shows, besides .git and .DS_Store (serve.json's `unlisted`). */
  unlisted?: string[];
  /** A directory holding exactly one file serves that file (serve.json's `renderSingle`). */
  renderSingle?: boolean;
  /**
   * Fields to add. An object (`{ 'X-Frame-Options': 'DENY' }`) puts them on
   * every response: files, 304s, error pages, redirects, listings. An array
   * holds serve.json's header rules, `[{ source: '**\/*.js', headers: [{ key, value }] }]`
   * (a null value removes a field), applied to the files and error pages
   * under `source`; a rule without a source applies everywhere, as the
   * object does. A path rule's value wins over an everywhere field.
   */
  headers?: HeaderRule[] | Record<string, string | number>;
  /** serve.json's rewrites: `[{ source: '/app/**', destination: '/index.html' }]`. */
  rewrites?: RewriteRule[];
  /** serve.json's redirects: `[{ source: '/old/:id', destination: '/new/:id', type: 301 }]`. */
  redirects?: RedirectRule[];
  /** serve.json's clean URLs: `/a` serves `a.html` or `a/index.html` and `/a.html` redirects to `/a`; true or a list of globs. */
  cleanUrls?: boolean | string[];
  /** serve.json's trailingSlash: true adds, false removes a trailing slash with a 301. */
  trailingSlash?: boolean;
  /**
   * Compress each compressible file once, in the background, and serve the
   * variant from a cache on disk (zero-copy, like a precompressed sibling).
   * true uses the default directory and size bound. Off by default.
   */
  compress?: boolean | CompressOption;
  /**
   * A path (`'/healthz'`) answered before any file is looked for: `200 ok`
   * while serving, `503 draining` once the server is closing
   * (createServer's and createSecureServer's `close()`, as on SIGTERM),
   * with `Cache-Control: no-store`, never in the access log. Off by default.
   */
  health?: string | false;
  /**
   * HTTP Basic authentication: `{ users: { alice: 'scrypt:16384:8:1:SALT:HASH' }, realm: 'staging' }`.
   * A request without valid credentials gets `401` with `WWW-Authenticate:
   * Basic realm="..."`. Hashes are scrypt (`scrypt:N:r:p:SALT:HASH`, base64)
   * or bcrypt (`$2b$...`); a password in the clear must say `plain:PASSWORD`.
   * The health path stays open. Off by default.
   */
  auth?: AuthOption | false;
  /**
   * Content-Types by extension, replacing or adding to the built-in ones:
   * `{ wasm: 'application/wasm', '.md': 'text/markdown' }`. A text type
   * gets `charset=utf-8` as the built-in ones do, unless it names one.
   */
  mimeTypes?: Record<string, string>;
  /**
   * A fallback proxy (createServer and createHandler; a middleware's misses
   * go to next()): a request with no file behind it (a 404 before any file
   * was found) and every method but GET and HEAD go to this upstream,
   * streamed both ways; createServer forwards WebSocket upgrades too. The
   * SPA shell and the 404 page do not apply then: the upstream answers
   * misses. `'http://127.0.0.1:3000'`, or `{ target, timeout }`.
   */
  proxy?: string | URL | ProxyOption;
}

export interface ProxyOption {
  /** The upstream: `http://host:port` or `https://…`, optionally with a path prefixed to every request's. */
  target: string | URL;
  /** Milliseconds the upstream has to connect and send its response head (504 past it), and that its body may stall. Default 30000. */
  timeout?: number;
  /** Forward upgrades (WebSocket) too; createServer's. Default true. */
  upgrades?: boolean;
}

export interface CorsOption {
  /** Origins (`scheme://host[:port]`) whose requests are answered with their own Origin; without, any (`*`). */
  origins?: string[];
  /** Request headers a preflight allows. */
  allowHeaders?: string[];
}

export interface CompressOption {
  /** The cache directory, outside every served root (default: $XDG_CACHE_HOME/sluice/compressed). */
  dir?: string;
  /** Bound on the bytes the cache holds (default 512 MiB). */
  maxBytes?: number;
  /**
   * Compress every compressible file under the root in the background at
   * start-up (idle priority, behind requests' own compressions), so first
   * requests get compressed bytes too. createServer's server emits
   * 'compressWarm' with a summary when done. Default false.
   */
  warm?: boolean;
}

/**
 * Where a peer's answers differ from sluice's own, decided once per handler
 * (sluice/serve-handler answers as serve does), so no stage asks which
 * product it is imitating.
 */
export interface Dialect {
  /** A Range that cannot be satisfied (an inverted one included): 416 with Content-Range and the whole file as its body, rather than a bare 416. */
  readonly unsatisfiableWithBody: boolean;
  /** The status of a file the symlink policy refuses (serve: 404, as if absent). */
  readonly symlinkRefusal: 403 | 404;
  /** serve's error answers: JSON for a client asking for JSON (which then never gets the 404 page), and a traversal's 403 as 400. */
  readonly serveErrors: boolean;
}

export const SLUICE_DIALECT: Dialect = Object.freeze({ unsatisfiableWithBody: false, symlinkRefusal: 403, serveErrors: false });
export const SERVE_DIALECT: Dialect = Object.freeze({ unsatisfiableWithBody: true, symlinkRefusal: 404, serveErrors: true });

/**
 * A directory asked for without its trailing slash: redirect to the slash
 * form (serve-static), answer with its index as if it had the slash
 * (@fastify/static without `redirect`), or not found.
 */
export type SlashlessDirectory = 'redirect' | 'index' | 'not-found';

export interface ResolvedOptions {
  engine: EngineName | 'auto';
  acceptRanges: boolean;
  cacheControl: boolean;
  contentType: boolean;
  dotfiles: DotfilePolicy;
  etag: boolean;
  extensions: string[];
  fallthrough: boolean;
  immutable: boolean;
  index: string[];
  lastModified: boolean;
  maxAge: number;
  redirect: boolean;
  /** What a directory without its trailing slash gets (adapters choose; `redirect` gives the default). */
  slashless: SlashlessDirectory;
  /** Answer every method as GET (a route's sendFile: the route chose the method); else GET and HEAD only. */
  anyMethod: boolean;
  setHeaders: ((res: ServerResponse, path: string, stat: Stats) => void) | null;
  maxChunk: number;
  /** null: the engine's default. */
  smallFileMax: number | null;
  sendTimeout: number;
  maxRanges: number;
  /** Codings to look for, in server preference order; [] when off. */
  precompressed: ContentCoding[];
  /** The coding `*` in Accept-Encoding stands for, or null for RFC 9110's "any" (adapters choose). */
  precompressedStar: ContentCoding | null;
  symlinks: SymlinkPolicy;
  /** fallback: dir is the default (a private one under the temporary directory stands in where it fails). */
  compress: { dir: string; maxBytes: number; fallback: boolean; warm: boolean } | null;
  single: boolean;
  cors: boolean;
  /** The origins CORS answers (reflected), or null for any (`*`). */
  corsOrigins: ReadonlySet<string> | null;
  /** A preflight's Access-Control-Allow-Headers, or null to allow what it asks for. */
  corsAllowHeaders: string | null;
  notFound: string | null;
  /** Where listings are allowed; null: nowhere. */
  listing: Applicability | null;
  unlisted: SourcePattern[];
  renderSingle: boolean;
  /** Routing rules (rewrites, redirects, clean URLs, trailing slash) and header rules; null when none are set. */
  rules: RuleSet | null;
  /** Whether requests are routed serve's way (the rules change which file a path names). */
  routed: boolean;
  /** Strong content-hash ETags (serve-handler's `etag: true`) instead of weak size-mtime ones. */
  strongEtag: boolean;
  dialect: Dialect;
  /** The health path, or null. */
  health: string | null;
  /** Basic authentication, or null. */
  auth: BasicAuth | null;
  /** The mimeTypes option (extensions lower case, without the dot; charset added), or null. */
  types: TypeOverrides | null;
}

const ENGINE_CHOICES = ['auto', 'io_uring', 'splice', 'sendfile', 'copy'];
const CODINGS: readonly ContentCoding[] = ['br', 'zstd', 'gzip'];
const KNOWN_CODINGS: readonly ContentCoding[] = [...CODINGS, 'deflate'];
const SYMLINK_POLICIES: readonly SymlinkPolicy[] = ['follow', 'deny', 'within-root'];
const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  msec: 1,
  msecs: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60000,
  min: 60000,
  mins: 60000,
  minute: 60000,
  minutes: 60000,
  h: 3600000,
  hr: 3600000,
  hrs: 3600000,
  hour: 3600000,
  hours: 3600000,
  d: 86400000,
  day: 86400000,
  days: 86400000,
  w: 604800000,
  week: 604800000,
  weeks: 604800000,
  y: 31557600000,
  yr: 31557600000,
  yrs: 31557600000,
  year: 31557600000,
  years: 31557600000,
};
// The `ms` package's grammar: a number, optional spaces, an optional unit.
const DURATION = /^(-?(?:\d+)?\.?\d+) *([a-z]*)$/i;

/** Parses '1d', '2 hours', '500' (ms) exactly as the `ms` package does; NaN if not. */
export function parseDuration(value: string): number {
  if (value.length > 100) return NaN;
  const match = DURATION.exec(value);
  if (!match) return NaN;
  const unit = (match[2] ?? '').toLowerCase() || 'ms';
  const factor = UNIT_MS[unit];
  return factor === undefined ? NaN : parseFloat(match[1]) * factor;
}

function invalid(message: string): TypeError {
  const err = new TypeError(message);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** send's rule: an option left undefined takes its default, anything else is coerced. */
function bool(value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : Boolean(value);
}

/** The smallest maxChunk: one page. Below it a transfer would wake up for every few bytes. */
export const MIN_MAX_CHUNK = 4096;

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`The "${name}" option must be a positive integer. Received ${show(value)}`);
  }
  return value;
}

/** The largest smallFileMax: every cached file version may hold this much memory. */
export const MAX_SMALL_FILE_MAX = 1024 * 1024;

function smallFileMax(value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_SMALL_FILE_MAX) {
    throw invalid(`The "smallFileMax" option must be an integer from 0 to ${MAX_SMALL_FILE_MAX} (bytes). Received ${show(value)}`);
  }
  return value;
}

function maxChunk(value: unknown): number {
  const n = positiveInt(value, 'maxChunk', 2 * 1024 * 1024);
  if (n < MIN_MAX_CHUNK) throw invalid(`The "maxChunk" option must be at least ${MIN_MAX_CHUNK} (bytes). Received ${show(value)}`);
  return n;
}

/** send's normalizeList: a string or an array of strings; false/'' mean none. */
function stringList(value: unknown, name: string): string[] {
  const list: unknown[] = ([] as unknown[]).concat(value || []);
  for (const item of list) {
    if (typeof item !== 'string') throw invalid(`${name} option must be array of strings or false`);
  }
  return list as string[];
}

function maxAgeMs(value: unknown): number {
  const ms = typeof value === 'string' ? parseDuration(value) : Number(value);
  return Number.isNaN(ms) ? 0 : Math.min(Math.max(0, ms), ONE_YEAR_MS);
}

function codings(value: unknown): ContentCoding[] {
  if (value === undefined || value === true) return [...CODINGS];
  if (value === false) return [];
  if (!Array.isArray(value) || !value.every((c) => KNOWN_CODINGS.includes(c as ContentCoding))) {
    throw invalid(`The "precompressed" option must be a boolean or an array of ${KNOWN_CODINGS.map(show).join(', ')}. Received ${show(value)}`);
  }
  return [...new Set(value as ContentCoding[])];
}

export function resolveOptions(options?: SluiceOptions | null): ResolvedOptions {
  // serve-static copies its options with Object.create(options || null).
  const opts: SluiceOptions = options ?? {};
  if (typeof opts !== 'object') throw invalid(`The "options" argument must be an object. Received ${show(opts)}`);

  const engine = opts.engine ?? 'auto';
  if (!ENGINE_CHOICES.includes(engine)) {
    throw invalid(`The "engine" option must be one of ${ENGINE_CHOICES.join(', ')}. Received ${show(engine)}`);
  }

  const dotfiles = opts.dotfiles ?? 'ignore';
  if (dotfiles !== 'allow' && dotfiles !== 'deny' && dotfiles !== 'ignore') {
    throw invalid('dotfiles option must be "allow", "deny", or "ignore"');
  }

  if (opts.setHeaders && typeof opts.setHeaders !== 'function') {
    throw invalid('option setHeaders must be function');
  }

  const symlinks = opts.symlinks ?? 'follow';
  if (!SYMLINK_POLICIES.includes(symlinks)) {
    throw invalid(`The "symlinks" option must be one of ${SYMLINK_POLICIES.map(show).join(', ')}. Received ${show(symlinks)}`);
  }

  return {
    ...baseOptions(opts, engine, dotfiles, symlinks),
    ...serveOptions(opts),
  };
}

function baseOptions(opts: SluiceOptions, engine: EngineName | 'auto', dotfiles: DotfilePolicy, symlinks: SymlinkPolicy) {
  return {
    engine,
    acceptRanges: bool(opts.acceptRanges, true),
    cacheControl: bool(opts.cacheControl, true),
    contentType: bool(opts.contentType, true),
    dotfiles,
    etag: bool(opts.etag, true),
    extensions: opts.extensions === undefined ? [] : stringList(opts.extensions, 'extensions'),
    // serve-static: only an explicit false turns these off.
    fallthrough: opts.fallthrough !== false,
    immutable: bool(opts.immutable, false),
    index: opts.index === undefined ? ['index.html'] : stringList(opts.index, 'index'),
    lastModified: bool(opts.lastModified, true),
    maxAge: maxAgeMs(opts.maxAge || opts.maxage),
    redirect: opts.redirect !== false,
    slashless: (opts.redirect !== false ? 'redirect' : 'not-found') as SlashlessDirectory,
    anyMethod: false,
    setHeaders: opts.setHeaders || null,
    maxChunk: maxChunk(opts.maxChunk),
    smallFileMax: smallFileMax(opts.smallFileMax),
    sendTimeout: opts.sendTimeout === 0 ? 0 : positiveInt(opts.sendTimeout, 'sendTimeout', 60_000),
    maxRanges: positiveInt(opts.maxRanges, 'maxRanges', 50),
    precompressed: codings(opts.precompressed),
    precompressedStar: null,
    symlinks,
    compress: compressOption(opts.compress),
  };
}

/** Default bound on the compress cache's size. */
export const DEFAULT_COMPRESS_MAX_BYTES = 512 * 1024 * 1024;

/** The default compress cache: $XDG_CACHE_HOME/sluice/compressed, else ~/.cache/sluice/compressed. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'sluice', 'compressed');
}

function compressOption(value: unknown): ResolvedOptions['compress'] {
  if (value === undefined || value === false) return null;
  if (value === true) return { dir: defaultCacheDir(), maxBytes: DEFAULT_COMPRESS_MAX_BYTES, fallback: true, warm: false };
  if (typeof value !== 'object' || value === null) throw invalid(`The "compress" option must be a boolean or an object. Received ${show(value)}`);
  const { dir, maxBytes, warm } = value as CompressOption;
  if (warm !== undefined && typeof warm !== 'boolean') throw invalid(`The "compress.warm" option must be a boolean. Received ${show(warm)}`);
  if (dir !== undefined && (typeof dir !== 'string' || dir === ''))
    throw invalid(`The "compress.dir" option must be a non-empty string. Received ${show(dir)}`);
  const bound = positiveInt(maxBytes, 'compress.maxBytes', DEFAULT_COMPRESS_MAX_BYTES);
  return { dir: dir ?? defaultCacheDir(), maxBytes: bound, fallback: dir === undefined, warm: warm === true };
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** A media type as RFC 9110 writes one: `type/subtype`, and parameters. */
export const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[^"\\\\]*"))*$`);
/** An extension as the mimeTypes option and --mime take it: `wasm` or `.wasm`. */
export const EXTENSION = /^\.?[^./\s]+$/;

/** One mimeTypes entry checked: the extension's key and the type to send (with its charset), or the reason it is refused. */
export function typeEntry(ext: string, type: unknown): { ext: string; type: string } | string {
  if (!EXTENSION.test(ext)) return `'${ext}' is not an extension (expected, say, wasm or .wasm)`;
  // eslint-disable-next-line no-control-regex -- a control byte would split or corrupt the head
  if (typeof type !== 'string' || !MEDIA_TYPE.test(type) || /[\x00-\x1f\x7f]/.test(type))
    return `'${String(type)}' is not a media type (expected, say, application/wasm)`;
  return { ext: ext.replace(/^\./, '').toLowerCase(), type: mime.contentType(type) || type };
}

function typeOverrides(value: unknown): TypeOverrides | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid(`The "mimeTypes" option must be an object of extensions and types. Received ${show(value)}`);
  const types = new Map<string, string>();
  for (const [ext, type] of Object.entries(value)) {
    const entry = typeEntry(ext, type);
    if (typeof entry === 'string') throw invalid(`The "mimeTypes" option: ${entry}`);
    types.set(entry.ext, entry.type);
  }
  return types.size === 0 ? null : types;
}

/** `https://App.example:8443` as browsers send it in Origin (`https://app.example:8443`), or null when it is not an origin. */
export function originOf(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const origin = url.origin;
  return origin !== 'null' && value.replace(/\/$/, '').toLowerCase() === origin.toLowerCase() ? origin : null;
}

function corsLists(value: unknown): { corsOrigins: ReadonlySet<string> | null; corsAllowHeaders: string | null } {
  if (typeof value !== 'object' || value === null) return { corsOrigins: null, corsAllowHeaders: null };
  const { origins, allowHeaders } = value as CorsOption;
  if (origins !== undefined && !Array.isArray(origins)) throw invalid(`The "cors.origins" option must be an array of origins. Received ${show(origins)}`);
  if (allowHeaders !== undefined && !Array.isArray(allowHeaders))
    throw invalid(`The "cors.allowHeaders" option must be an array of header names. Received ${show(allowHeaders)}`);
  const corsOrigins = origins?.map((o) => {
    const origin = typeof o === 'string' ? originOf(o) : null;
    if (origin === null) throw invalid(`The "cors.origins" option must hold origins such as 'https://app.example'. Received ${show(o)}`);
    return origin;
  });
  for (const name of allowHeaders ?? []) {
    if (typeof name !== 'string' || !new RegExp(`^${TOKEN}$`).test(name))
      throw invalid(`The "cors.allowHeaders" option must hold header names. Received ${show(name)}`);
  }
  return {
    corsOrigins: corsOrigins === undefined ? null : new Set(corsOrigins),
    corsAllowHeaders: allowHeaders === undefined ? null : allowHeaders.join(', '),
  };
}

/** A path below the origin, without query, fragment or spaces. */
export const HEALTH_PATH = /^\/[^\s?#]*$/;

function healthPath(value: unknown): string | null {
  if (value === undefined || value === false) return null;
  if (typeof value !== 'string' || !HEALTH_PATH.test(value)) {
    throw invalid(`The "health" option must be a path such as '/healthz' or false. Received ${show(value)}`);
  }
  return value;
}

/** The headers option as rules: an object is one rule without a source (every response). */
function headerRules(value: unknown): HeaderRule[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value as HeaderRule[];
  if (typeof value !== 'object') throw invalid(`The "headers" option must be an object of fields or an array of rules. Received ${show(value)}`);
  const entries = Object.entries(value as Record<string, string | number>).map(([key, v]) => ({ key, value: v }));
  return entries.length === 0 ? [] : [{ headers: entries }];
}

/** The serve.json-shaped options: patterns are compiled here, once. */
function serveOptions(opts: SluiceOptions) {
  const routed = Boolean(opts.rewrites?.length || opts.redirects?.length || opts.cleanUrls || typeof opts.trailingSlash === 'boolean');
  const headers = headerRules(opts.headers);
  const rules =
    routed || headers.length > 0
      ? new RuleSet({
          headers,
          rewrites: opts.rewrites,
          redirects: opts.redirects,
          cleanUrls: opts.cleanUrls ?? false,
          trailingSlash: opts.trailingSlash,
        })
      : null;
  const listing = opts.listing === undefined || opts.listing === false ? null : new Applicability(opts.listing);
  if (opts.notFound !== undefined && opts.notFound !== false && (typeof opts.notFound !== 'string' || opts.notFound === '')) {
    throw invalid(`The "notFound" option must be a path below root or false. Received ${show(opts.notFound)}`);
  }
  return {
    single: bool(opts.single, false),
    cors: bool(opts.cors, false),
    ...corsLists(opts.cors),
    notFound: typeof opts.notFound === 'string' ? opts.notFound : null,
    listing: listing !== null && listing.ever ? listing : null,
    unlisted: stringList(opts.unlisted, 'unlisted').map((s) => new SourcePattern(s, false)),
    renderSingle: bool(opts.renderSingle, false),
    rules,
    routed,
    strongEtag: opts.etag === 'strong',
    dialect: SLUICE_DIALECT,
    health: healthPath(opts.health),
    auth: basicAuth(opts.auth),
    types: typeOverrides(opts.mimeTypes),
  };
}
