// @fastify/static's options, checked and resolved once at registration,
// with its defaults and its errors: what the plugin and its decorators read.
import type { Stats } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { EngineName } from '../engines';
import type { SluiceOptions, SymlinkPolicy } from '../options';
import type { DotfilePolicy } from '../resolve';
import { FST_STATIC_INVALID_OPTION, FST_STATIC_INVALID_OPTION_VALUE, FST_STATIC_MULTIROOT_LIST_CONFLICT } from './errors';

/** What a file is sent with: @fastify/static's send options (per plugin, or per reply.sendFile call). */
export interface SendOptions {
  acceptRanges?: boolean;
  contentType?: boolean;
  cacheControl?: boolean;
  dotfiles?: DotfilePolicy;
  etag?: boolean;
  extensions?: string[];
  immutable?: boolean;
  index?: string[] | string | false;
  lastModified?: boolean;
  maxAge?: string | number;
}

export interface ExtendedInformation {
  fileCount: number;
  totalFileCount: number;
  folderCount: number;
  totalFolderCount: number;
  totalSize: number;
  lastModified: number;
}

export interface ListDir {
  href: string;
  name: string;
  stats: Stats;
  extendedInfo?: ExtendedInformation;
}

export type ListFile = ListDir;

export type ListRender = (dirs: ListDir[], files: ListFile[]) => string;

export interface ListOptions {
  format?: 'json' | 'html';
  names?: string[];
  extendedFolderInfo?: boolean;
  jsonFormat?: 'names' | 'extended';
  render?: ListRender;
}

export type Root = string | string[] | URL | URL[];

/** @fastify/static's options, plus sluice's engine choices. */
export interface SluicePluginOptions extends SendOptions {
  root?: Root;
  prefix?: string;
  prefixAvoidTrailingSlash?: boolean;
  serve?: boolean;
  decorateReply?: boolean;
  schemaHide?: boolean;
  setHeaders?: (reply: FastifyReply, path: string, stat: Stats) => void;
  redirect?: boolean;
  wildcard?: boolean;
  globIgnore?: string[];
  serveDotFiles?: boolean;
  list?: boolean | ListOptions;
  allowedPath?: (pathName: string, root: string, request: FastifyRequest) => boolean;
  preCompressed?: boolean;
  suppressWarning?: boolean;
  constraints?: RouteOptions['constraints'];
  logLevel?: NonNullable<RouteOptions['logLevel']>;
  /** sluice: 'auto' (default) or an engine by name. */
  engine?: EngineName | 'auto';
  /** sluice: bytes one transfer sends per wake-up. */
  maxChunk?: number;
  /** sluice: ms a client may read nothing while a body is sent (0: never). */
  sendTimeout?: number;
  /** sluice: most parts of a multi-range request. */
  maxRanges?: number;
  /** sluice: 'follow' (default), 'within-root' or 'deny'. */
  symlinks?: SymlinkPolicy;
  /** sluice: false sends a missing file to the error handler (a 404 error) instead of the not-found handler. */
  fallthrough?: boolean;
}

/** The resolved form every request reads. */
export interface StaticConfig {
  /** Absolute roots, in the order they are tried; null when none was given (serve: false). */
  readonly roots: readonly string[] | null;
  /** The option as given ('/' by default): the redirect route's path. */
  readonly mount: string;
  /** Routes go under this (the mount with a trailing slash unless prefixAvoidTrailingSlash). */
  readonly prefix: string;
  readonly serve: boolean;
  readonly decorateReply: boolean;
  readonly wildcard: boolean;
  readonly globIgnore: string[] | undefined;
  readonly serveDotFiles: boolean;
  readonly redirect: boolean;
  readonly list: ListOptions | null;
  readonly dotfiles: DotfilePolicy;
  readonly allowedPath: SluicePluginOptions['allowedPath'] | null;
  readonly setHeaders: SluicePluginOptions['setHeaders'] | null;
  readonly preCompressed: boolean;
  readonly strictNotFound: boolean;
  /** The send options every file goes out with, as sluice options. */
  readonly send: SluiceOptions;
  readonly route: Pick<RouteOptions, 'constraints' | 'logLevel'> & { schema: { hide: boolean } };
}

function normalizeRoot(root: unknown): unknown {
  const fromUrl = (r: unknown): unknown => (r instanceof URL && r.protocol === 'file:' ? fileURLToPath(r) : r);
  return Array.isArray(root) ? root.map(fromUrl) : fromUrl(root);
}

function checkPath(fastify: FastifyInstance, root: unknown, quiet: boolean): string {
  if (typeof root !== 'string') throw new FST_STATIC_INVALID_OPTION_VALUE('root', 'must be a string');
  if (!path.isAbsolute(root)) throw new FST_STATIC_INVALID_OPTION('root', 'must be an absolute path');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!quiet) fastify.log.warn(`"root" path "${root}" must exist`);
    return root;
  }
  if (!stat.isDirectory()) throw new FST_STATIC_INVALID_OPTION('root', 'must be a directory');
  return root;
}

/** The roots, checked as @fastify/static checks them (a missing one is a warning, not an error). */
function checkRoots(fastify: FastifyInstance, given: unknown, quiet: boolean): string[] {
  const root = normalizeRoot(given);
  if (root === undefined) throw new FST_STATIC_INVALID_OPTION('root', 'is required');
  if (Array.isArray(root)) {
    if (root.length === 0) throw new FST_STATIC_INVALID_OPTION('root', 'array requires one or more paths');
    if (new Set(root).size !== root.length) throw new FST_STATIC_INVALID_OPTION('root', 'array contains duplicate paths');
    return root.map((r) => checkPath(fastify, r, quiet));
  }
  if (typeof root === 'string') return [checkPath(fastify, root, quiet)];
  throw new FST_STATIC_INVALID_OPTION_VALUE('root', 'must be a string or array of strings');
}

function checkList(opts: SluicePluginOptions, roots: readonly string[] | null): ListOptions | null {
  const list = opts.list;
  if (!list) return null;
  if (roots !== null && Array.isArray(normalizeRoot(opts.root))) throw new FST_STATIC_MULTIROOT_LIST_CONFLICT();
  const o: ListOptions = list === true ? {} : list;
  if (o.format && o.format !== 'json' && o.format !== 'html') throw new FST_STATIC_INVALID_OPTION_VALUE('list.format', 'must be json or html');
  if (o.names && !Array.isArray(o.names)) throw new FST_STATIC_INVALID_OPTION_VALUE('list.names', 'must be an array');
  if (o.jsonFormat != null && o.jsonFormat !== 'names' && o.jsonFormat !== 'extended') {
    throw new FST_STATIC_INVALID_OPTION_VALUE('list.jsonFormat', 'must be names or extended');
  }
  if (o.format === 'html' && typeof o.render !== 'function') {
    throw new FST_STATIC_INVALID_OPTION_VALUE('list.render', 'must be a function and is required with html format');
  }
  return o;
}

/** The send options (and sluice's own) as the responder takes them. */
function sendOptionsOf(opts: SluicePluginOptions, dotfiles: DotfilePolicy): SluiceOptions {
  return {
    acceptRanges: opts.acceptRanges,
    contentType: opts.contentType,
    cacheControl: opts.cacheControl,
    dotfiles,
    etag: opts.etag,
    extensions: opts.extensions,
    immutable: opts.immutable,
    index: opts.index,
    lastModified: opts.lastModified,
    maxAge: opts.maxAge,
    precompressed: opts.preCompressed === true ? ['br', 'gzip', 'deflate'] : false,
    engine: opts.engine,
    maxChunk: opts.maxChunk,
    sendTimeout: opts.sendTimeout,
    maxRanges: opts.maxRanges,
    symlinks: opts.symlinks,
  };
}

/** Checks `opts` in @fastify/static's order, with its errors, and resolves them. */
export function staticConfig(fastify: FastifyInstance, opts: SluicePluginOptions): StaticConfig {
  const serve = opts.serve !== false;
  const roots = serve || opts.root !== undefined ? checkRoots(fastify, opts.root, opts.suppressWarning === true) : null;
  if (opts.setHeaders !== undefined && typeof opts.setHeaders !== 'function') throw new FST_STATIC_INVALID_OPTION_VALUE('setHeaders', 'must be a function');
  const list = checkList(opts, roots);
  if (serve && opts.wildcard && typeof opts.wildcard !== 'boolean') throw new FST_STATIC_INVALID_OPTION_VALUE('wildcard', 'must be a boolean');
  const dotfiles = opts.dotfiles ?? 'allow';
  const mount = opts.prefix ?? '/';
  const prefix = opts.prefixAvoidTrailingSlash || mount.endsWith('/') ? mount : `${mount}/`;
  return {
    roots,
    mount,
    prefix,
    serve,
    decorateReply: opts.decorateReply !== false,
    wildcard: opts.wildcard !== false,
    globIgnore: opts.globIgnore,
    serveDotFiles: opts.serveDotFiles === true,
    redirect: opts.redirect === true,
    list,
    dotfiles,
    allowedPath: opts.allowedPath ?? null,
    setHeaders: opts.setHeaders ?? null,
    preCompressed: opts.preCompressed === true,
    strictNotFound: opts.fallthrough === false,
    send: sendOptionsOf(opts, dotfiles),
    route: { constraints: opts.constraints, logLevel: opts.logLevel, schema: { hide: opts.schemaHide ?? true } },
  };
}
