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

/**
 * Responders for calls that name their root and options per request
 * (sendFile, reply.sendFile): one per distinct (root, options) value,
 * sharing the engines of one engine choice, so a route that passes a fresh
 * options object on every request still reuses the resolver's and the head
 * lists' work. `key` must capture every option that changes a response.
 */
export class ResponderCache {
  private readonly responders = new Map<string, Responder>();
  private readonly transports = new Map<string, Transports>();

  constructor(private readonly overrides: Partial<ResolvedOptions> = {}) {}

  get(root: string, opts: SluiceOptions, key: string): Responder {
    const id = `${root}\0${key}`;
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
