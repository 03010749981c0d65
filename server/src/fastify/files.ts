// One plugin registration's files: which responder answers a path (per
// root, per set of send options), and what becomes of what it does not
// answer, as @fastify/static decides it: a missing file tries the next
// root, then a listing by name, then Fastify's not-found handler; any
// other refusal (403, 412, 416, a throwing setHeaders) goes to Fastify's
// error handler with its status and headers.
import * as path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ResolvedOptions, SluiceOptions } from '../options';
import type { Responder } from '../responder';
import { targetFor } from '../send-file';
import { ResponderCache } from '../setup';
import { isListingName, listingDir, sendListing } from './dir-list';
import { forbiddenError } from './errors';
import type { SendOptions, StaticConfig } from './options';
import { ReplyClaim, type ReplyHooks } from './reply';
import { hasDotDotSegment, normalizedPathname } from './route-path';

/** A responder and the fields it owns (earlier values on the reply give way to them). */
interface Sender {
  readonly responder: Responder;
  readonly owned: readonly string[];
}

/** The send options a per-call `options` object may change. */
const SEND_KEYS: readonly (keyof SendOptions)[] = [
  'acceptRanges',
  'contentType',
  'cacheControl',
  'dotfiles',
  'etag',
  'extensions',
  'immutable',
  'index',
  'lastModified',
  'maxAge',
];

function ownedFields(send: SluiceOptions): string[] {
  const owned = ['content-length', 'content-range'];
  if (send.acceptRanges !== false) owned.push('accept-ranges');
  if (send.cacheControl !== false) owned.push('cache-control');
  if (send.lastModified !== false) owned.push('last-modified');
  if (send.etag !== false) owned.push('etag');
  if (send.contentType !== false) owned.push('content-type');
  return owned;
}

export class StaticFiles {
  private readonly cache: ResponderCache;
  private readonly defaults = new Map<string, Sender>();
  /** Each responder's owned fields, worked out once (the cache decides which responder). */
  private readonly owned = new WeakMap<Responder, readonly string[]>();
  private readonly hooks: ReplyHooks;

  constructor(private readonly config: StaticConfig) {
    const overrides: Partial<ResolvedOptions> = {
      fallthrough: false,
      slashless: config.redirect ? 'redirect' : 'index',
      precompressedStar: 'gzip',
      anyMethod: true,
    };
    this.cache = new ResponderCache(overrides);
    this.hooks = {
      setHeaders: config.setHeaders ?? null,
      vary: config.preCompressed,
      directory: config.list === null ? null : (claim, dir) => this.list(claim, dir),
    };
  }

  /**
   * Answers with `pathname` (a decoded path, below one of `roots`; absolute
   * when there are none), trying `roots` from `at` on.
   */
  send(request: FastifyRequest, reply: FastifyReply, pathname: string, roots: readonly string[] | null, options?: SendOptions, at = 0): void {
    let tried = roots;
    if (tried === null || tried.length === 0) {
      if (!path.isAbsolute(pathname)) return void reply.callNotFound();
      tried = ['/'];
    }
    // @fastify/send would normalise a ".." away inside the root: refused first.
    if (hasDotDotSegment(pathname)) return void reply.send(forbiddenError());
    const root = tried[at];
    const allowed = this.config.allowedPath;
    if (allowed !== null && allowed !== undefined && !allowed(normalizedPathname(pathname), root, request)) return void reply.callNotFound();
    const target = targetFor(pathname);
    if (target === null) return void reply.callNotFound();
    const { responder, owned } = this.senderFor(root, options);
    const claim = new ReplyClaim(request, reply, pathname, owned, this.hooks);
    const next = (err?: unknown): void => this.refused(claim, err, tried, options, at);
    responder.serve(request.raw, reply.raw, next, target, request.raw.url ?? '/', claim);
  }

  private refused(claim: ReplyClaim, err: unknown, roots: readonly string[], options: SendOptions | undefined, at: number): void {
    const { request, reply, pathname } = claim;
    const e = err as { status?: number; statusCode?: number } | undefined;
    const status = e === undefined ? 404 : (e.status ?? e.statusCode ?? 500);
    if (status !== 404 || (err !== undefined && this.config.strictNotFound)) {
      const headers = (err as { headers?: Record<string, string> }).headers;
      if (headers !== undefined) reply.headers(headers);
      return void reply.send(err);
    }
    const list = this.config.list;
    if (list !== null && this.config.roots !== null && isListingName(pathname, list)) {
      const dir = listingDir(this.config.roots[0], pathname);
      if (dir !== null) return void this.list(claim, dir);
    }
    if (at + 1 < roots.length) return this.send(request, reply, pathname, roots, options, at + 1);
    reply.callNotFound();
  }

  /** Lists `dir` for the claim's request (on its way when this returns true). */
  private list(claim: ReplyClaim, dir: string): boolean {
    const options = this.config.list;
    if (options === null) return false;
    const { reply, pathname } = claim;
    sendListing({ reply, dir, options, route: pathname, prefix: this.config.prefix, dotfiles: this.config.dotfiles }).catch((err: unknown) => {
      void reply.send(err);
    });
    return true;
  }

  private senderFor(root: string, options: SendOptions | undefined): Sender {
    if (options === undefined) {
      let sender = this.defaults.get(root);
      if (sender === undefined) {
        sender = { responder: this.cache.get(root, this.config.send), owned: ownedFields(this.config.send) };
        this.defaults.set(root, sender);
      }
      return sender;
    }
    const merged: SluiceOptions = { ...this.config.send };
    for (const key of SEND_KEYS) if (key in options) (merged as Record<string, unknown>)[key] = options[key];
    const responder = this.cache.get(root, merged);
    let owned = this.owned.get(responder);
    if (owned === undefined) this.owned.set(responder, (owned = ownedFields(merged)));
    return { responder, owned };
  }
}
