// koa-send's and koa-static's options, checked with their messages, and
// what they become for sluice's responder. koa-send's own choices (the
// Cache-Control it writes, its hidden-file rule, `format`, the returned
// path) stay in the adapter; everything that decides the answer (index,
// extensions, precompressed siblings, validators, ranges, symlinks) is the
// responder's.
import type { Stats } from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { EngineName } from '../engines';
import type { ContentCoding } from '../negotiate';
import type { CompressOption, SluiceOptions, SymlinkPolicy } from '../options';

export type SetHeaders = (res: ServerResponse, path: string, stats: Stats) => void;

/** koa-send's options, and sluice's that a Koa app may want. */
export interface SendOptions {
  /** Directory `path` is resolved in (default: the process's working directory). */
  root?: string;
  /** Served for a path ending in '/' (default none). */
  index?: string | false;
  /** Cache-Control max-age in milliseconds (default 0). */
  maxage?: number;
  /** koa-send's alias of maxage. */
  maxAge?: number;
  /** Adds `immutable` to Cache-Control. */
  immutable?: boolean;
  /** Serve files and directories whose names start with '.' (default false). */
  hidden?: boolean;
  /** Serve `x.br` to clients that accept br (default true). */
  brotli?: boolean;
  /** Serve `x.gz` to clients that accept gzip (default true). */
  gzip?: boolean;
  /** A directory without its trailing slash serves its index (default true). */
  format?: boolean;
  /** Called with the response, the file's path and its Stats before the head is planned. */
  setHeaders?: SetHeaders;
  /** Extensions tried when the path has none, first found served (`['html']` or `['.html']`). */
  extensions?: string[] | false;
  /** sluice: 'auto' (default) or a named engine. */
  engine?: EngineName | 'auto';
  /** sluice: ETags (default true; 'strong' for content hashes). */
  etag?: boolean | 'strong';
  /** sluice: answer Range requests (default true). */
  acceptRanges?: boolean;
  /** sluice: the symlink policy (default 'follow', as koa-send). */
  symlinks?: SymlinkPolicy;
  /** sluice: codings of precompressed siblings, replacing what brotli/gzip choose (['br', 'zstd', 'gzip']). */
  precompressed?: boolean | ContentCoding[];
  /** sluice: compress each compressible file once into a cache on disk, served zero-copy. */
  compress?: boolean | CompressOption;
  /** sluice: most parts a multi-range request may ask for. */
  maxRanges?: number;
  /** sluice: Content-Types by extension, over the built-in ones. */
  mimeTypes?: Record<string, string>;
  /** sluice: files up to this many bytes go from memory with the head. */
  smallFileMax?: number;
  /** sluice: ms a transfer may stall before its connection is closed. */
  sendTimeout?: number;
}

/** koa-static's options: koa-send's, `defer`, and index defaulting to 'index.html'. */
export interface StaticOptions extends Omit<SendOptions, 'root'> {
  /** Let downstream middleware answer first; serve only what is still a 404 without a body. */
  defer?: boolean;
}

/** One options object, checked and turned into what each request needs. */
export interface Prepared {
  /** Absolute root, or null: the working directory at the time of each call. */
  readonly root: string | null;
  readonly index: string | null;
  readonly hidden: boolean;
  readonly format: boolean;
  /** koa-send's Cache-Control value, set where nothing set one. */
  readonly cacheControl: string;
  readonly setHeaders: SetHeaders | null;
  readonly sluice: SluiceOptions;
  readonly compressing: boolean;
}

/** The sluice options passed through as they are. */
const PASSED: readonly (keyof SendOptions & keyof SluiceOptions)[] = [
  'engine',
  'etag',
  'acceptRanges',
  'symlinks',
  'compress',
  'maxRanges',
  'mimeTypes',
  'smallFileMax',
  'sendTimeout',
];

/** koa-send's check: an array of strings or false (anything else but an array means false). */
function extensionsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((ext: unknown) => {
    if (typeof ext !== 'string') throw new TypeError('option extensions must be array of strings or false');
    return ext.startsWith('.') ? ext.slice(1) : ext;
  });
}

function codingsOf(opts: SendOptions): boolean | ContentCoding[] {
  if (opts.precompressed !== undefined) return opts.precompressed;
  const codings: ContentCoding[] = [];
  if (opts.brotli !== false) codings.push('br');
  if (opts.gzip !== false) codings.push('gzip');
  return codings.length === 0 ? false : codings;
}

/** `max-age=N` (seconds, truncated) and `,immutable`: koa-send's Cache-Control. */
function cacheControlOf(opts: SendOptions): string {
  const maxage = opts.maxage || opts.maxAge || 0;
  return `max-age=${(maxage / 1000) | 0}${opts.immutable ? ',immutable' : ''}`;
}

function sluiceOptionsOf(opts: SendOptions, index: string | null): SluiceOptions {
  const out: SluiceOptions = {
    index: index === null ? false : [index],
    extensions: extensionsOf(opts.extensions),
    dotfiles: opts.hidden ? 'allow' : 'ignore',
    precompressed: codingsOf(opts),
    cacheControl: false,
  };
  for (const name of PASSED) if (opts[name] !== undefined) (out as Record<string, unknown>)[name] = opts[name];
  return out;
}

export function prepare(opts: SendOptions): Prepared {
  const { setHeaders } = opts;
  if (setHeaders && typeof setHeaders !== 'function') throw new TypeError('option setHeaders must be function');
  const index = typeof opts.index === 'string' && opts.index !== '' ? opts.index : null;
  const sluice = sluiceOptionsOf(opts, index);
  return {
    root: opts.root ? path.resolve(opts.root) : null,
    index,
    hidden: opts.hidden === true,
    format: opts.format !== false,
    cacheControl: cacheControlOf(opts),
    setHeaders: setHeaders || null,
    sluice,
    compressing: sluice.compress !== undefined && sluice.compress !== false,
  };
}
