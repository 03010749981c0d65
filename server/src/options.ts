// Options are validated and normalised once, at construction; the request
// path only reads the resolved form.
import type { Stats } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { EngineName } from './engines/types';
import type { DotfilePolicy } from './resolve';

export interface SluiceOptions {
  /** 'auto' (default) picks the fastest available engine. */
  engine?: EngineName | 'auto';
  acceptRanges?: boolean;
  cacheControl?: boolean;
  dotfiles?: DotfilePolicy;
  etag?: boolean;
  /** Extensions tried when a path has none, e.g. ['html']. */
  extensions?: string[] | false;
  /** Middleware only: pass 404s and other methods to next(). */
  fallthrough?: boolean;
  immutable?: boolean;
  index?: string[] | string | false;
  lastModified?: boolean;
  /** Milliseconds, or a string such as '1d' or '2h'. */
  maxAge?: number | string;
  redirect?: boolean;
  setHeaders?: (res: ServerResponse, path: string, stat: Stats) => void;
  /** Bytes a transfer sends per wake-up before other connections get a turn. */
  maxChunk?: number;
  /** Most parts a multi-range request may ask for (after coalescing). */
  maxRanges?: number;
}

export interface ResolvedOptions {
  engine: EngineName | 'auto';
  acceptRanges: boolean;
  cacheControl: boolean;
  dotfiles: DotfilePolicy;
  etag: boolean;
  extensions: string[];
  fallthrough: boolean;
  immutable: boolean;
  index: string[];
  lastModified: boolean;
  maxAge: number;
  redirect: boolean;
  setHeaders: ((res: ServerResponse, path: string, stat: Stats) => void) | null;
  maxChunk: number;
  maxRanges: number;
}

const ENGINE_CHOICES = ['auto', 'io_uring', 'splice', 'sendfile', 'copy'];
const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;
const UNIT_MS: Record<string, number> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60000, min: 60000, mins: 60000, minute: 60000, minutes: 60000,
  h: 3600000, hr: 3600000, hrs: 3600000, hour: 3600000, hours: 3600000,
  d: 86400000, day: 86400000, days: 86400000,
  w: 604800000, week: 604800000, weeks: 604800000,
  y: 31557600000, yr: 31557600000, yrs: 31557600000, year: 31557600000, years: 31557600000,
};

/** Parses '1d', '2 hours', '500' (ms) like the `ms` package; NaN if not. */
export function parseDuration(value: string): number {
  const match = /^\s*(-?(?:\d+)?\.?\d+)\s*([a-z]*)\s*$/i.exec(value);
  if (!match) return NaN;
  const unit = (match[2] ?? '').toLowerCase() || 'ms';
  const factor = UNIT_MS[unit];
  return factor === undefined ? NaN : Number(match[1]) * factor;
}

function invalid(name: string, expected: string, value: unknown): TypeError {
  const err = new TypeError(`The "${name}" option must be ${expected}. Received ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

function bool(opts: SluiceOptions, name: keyof SluiceOptions, fallback: boolean): boolean {
  const value = opts[name];
  if (value === undefined) return fallback;
  return Boolean(value);
}

function positiveInt(opts: SluiceOptions, name: 'maxChunk' | 'maxRanges', fallback: number): number {
  const value = opts[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalid(name, 'a positive integer', value);
  return value;
}

export function resolveOptions(opts: SluiceOptions = {}): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') throw invalid('options', 'an object', opts);
  const engine = opts.engine ?? 'auto';
  if (!ENGINE_CHOICES.includes(engine)) throw invalid('engine', `one of ${ENGINE_CHOICES.join(', ')}`, engine);

  const dotfiles = opts.dotfiles ?? 'ignore';
  if (dotfiles !== 'allow' && dotfiles !== 'deny' && dotfiles !== 'ignore') {
    throw invalid('dotfiles', "'allow', 'deny' or 'ignore'", dotfiles);
  }

  let index: string[];
  if (opts.index === undefined || opts.index === true as unknown) index = ['index.html'];
  else if (opts.index === false) index = [];
  else index = Array.isArray(opts.index) ? opts.index.map(String) : [String(opts.index)];

  let extensions: string[] = [];
  if (opts.extensions) {
    if (!Array.isArray(opts.extensions)) throw invalid('extensions', 'an array of strings or false', opts.extensions);
    extensions = opts.extensions.map((e) => String(e).replace(/^\./, ''));
  }

  const rawMaxAge = opts.maxAge ?? 0;
  let maxAge = typeof rawMaxAge === 'string' ? parseDuration(rawMaxAge) : Number(rawMaxAge);
  maxAge = Number.isNaN(maxAge) ? 0 : Math.min(Math.max(0, maxAge), ONE_YEAR_MS);

  if (opts.setHeaders !== undefined && typeof opts.setHeaders !== 'function') {
    throw invalid('setHeaders', 'a function', opts.setHeaders);
  }

  return {
    engine,
    acceptRanges: bool(opts, 'acceptRanges', true),
    cacheControl: bool(opts, 'cacheControl', true),
    dotfiles,
    etag: bool(opts, 'etag', true),
    extensions,
    fallthrough: bool(opts, 'fallthrough', true),
    immutable: bool(opts, 'immutable', false),
    index,
    lastModified: bool(opts, 'lastModified', true),
    maxAge,
    redirect: bool(opts, 'redirect', true),
    setHeaders: opts.setHeaders ?? null,
    maxChunk: positiveInt(opts, 'maxChunk', 2 * 1024 * 1024),
    maxRanges: positiveInt(opts, 'maxRanges', 50),
  };
}
