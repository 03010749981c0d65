// Construction shared by every adapter (handler, middleware, Fastify
// plugin, sendFile): validate the root and options once and bind the
// engines. Adapters that differ from serve-static in a resolved choice
// (what a directory without its slash gets, say) pass it as an override.
import * as path from 'node:path';
import { chooseTransports, type EngineName, type TransportOptions, type Transports } from './engines';
import { resolveOptions, type ResolvedOptions, type SluiceOptions } from './options';
import { Responder } from './responder';
import { openCompressCache } from './compress-cache';
import { warmCompressCache, type WarmSummary } from './compress-warm';
import { contentTypeFor } from './head';

/** Root as serve-static checks it, with serve-static's messages (code matches on them). */
export function checkRoot(root: unknown): string {
  if (!root) throw new TypeError('root path required');
  if (typeof root !== 'string') throw new TypeError('root path must be a string');
  return path.resolve(root);
}

function transportOptions(resolved: ResolvedOptions): TransportOptions {
  return { maxChunk: resolved.maxChunk, sendTimeout: resolved.sendTimeout, smallFileMax: resolved.smallFileMax };
}

export interface Built {
  responder: Responder;
  /** The engines the responder sends with (a fetch server sends file() bodies with them too). */
  transports: Transports;
  root: string;
  engine: EngineName;
  engineNote: string;
  /** Coded variants are made in the background (the compress cache is on). */
  compressing: boolean;
  /** The compress warm-up (the compress option's `warm`), or null. */
  warm: Promise<WarmSummary> | null;
}

export function build(root: unknown, opts: SluiceOptions | null | undefined, overrides?: Partial<ResolvedOptions>): Built {
  const absRoot = checkRoot(root);
  const resolved = { ...resolveOptions(opts), ...overrides };
  const transports = chooseTransports(resolved.engine, transportOptions(resolved));
  const responder = new Responder(absRoot, resolved, transports);
  return {
    responder,
    transports,
    root: absRoot,
    engine: transports.name,
    engineNote: transports.note,
    compressing: resolved.compress !== null,
    warm: startWarm(resolved, absRoot),
  };
}

/** The warm-up of the cache the responder uses (the one instance per directory), when asked for. */
function startWarm(resolved: ResolvedOptions, root: string): Promise<WarmSummary> | null {
  const cache = resolved.compress?.warm ? openCompressCache(resolved.compress, root) : null;
  if (cache === null) return null;
  const types = resolved.types;
  const type = (file: string): string => types?.get(path.extname(file).slice(1).toLowerCase()) ?? contentTypeFor(file);
  return warmCompressCache(cache, root, type);
}

/** Responders kept per (root, options) by a ResponderCache; past this it starts over. */
const MAX_RESPONDERS = 64;

/** Ids for functions and class instances among options (setHeaders...): two options objects match only with the same one. */
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

function identityOf(value: object): string {
  let id = identities.get(value);
  if (id === undefined) identities.set(value, (id = nextIdentity++));
  return `#${id}`;
}

/**
 * JSON.stringify's replacer for optionsKey: plain objects with their keys
 * sorted, a RegExp by its source, functions and other objects by identity.
 */
function canonical(_key: string, value: unknown): unknown {
  if (typeof value === 'function') return identityOf(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  if (value instanceof RegExp) return `regexp:${String(value)}`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return identityOf(value);
  const sorted: Record<string, unknown> = {};
  for (const name of Object.keys(value).sort()) sorted[name] = (value as Record<string, unknown>)[name];
  return sorted;
}

/**
 * A string that names every option's value, whatever the key order of the
 * object: two options objects get one responder exactly when they say the
 * same, with no list of "options that matter" to keep in step with options.ts.
 */
export function optionsKey(opts: SluiceOptions): string {
  return JSON.stringify(opts, canonical);
}

/**
 * Responders for calls that name their root and options per request
 * (sendFile, reply.sendFile): one per distinct (root, options) value,
 * sharing the engines of one engine choice, so a route that passes a fresh
 * options object on every request still reuses the resolver's and the head
 * lists' work.
 */
export class ResponderCache {
  private readonly responders = new Map<string, Responder>();
  private readonly transports = new Map<string, Transports>();

  constructor(private readonly overrides: Partial<ResolvedOptions> = {}) {}

  get(root: string, opts: SluiceOptions): Responder {
    const id = `${root}\0${optionsKey(opts)}`;
    let responder = this.responders.get(id);
    if (responder !== undefined) return responder;
    const resolved = { ...resolveOptions(opts), ...this.overrides };
    const chosen = transportOptions(resolved);
    // Keyed by every field chooseTransports is given, so none can be left out of the key.
    const transportsKey = [resolved.engine, ...Object.values(chosen)].join('|');
    let transports = this.transports.get(transportsKey);
    if (transports === undefined) {
      transports = chooseTransports(resolved.engine, chosen);
      this.transports.set(transportsKey, transports);
    }
    responder = new Responder(path.resolve(root), resolved, transports);
    if (this.responders.size >= MAX_RESPONDERS) this.responders.clear();
    this.responders.set(id, responder);
    return responder;
  }
}
