// One file answer inside Fastify's lifecycle. The head's fields are kept on
// the reply, with whatever hooks and plugins put there (@fastify/cors, a
// preHandler's reply.header()), until one of two things happens:
// - no onSend hook can see this route's payload: the status and every
//   field of the reply are written on the raw response, the reply is
//   hijacked and the body goes zero-copy (onResponse hooks and the request
//   log still run, on the response's 'finish');
// - an onSend hook exists (yours, @fastify/compress's): the body goes to
//   reply.send() as a stream of the file's bytes, so the hooks run and may
//   replace it. Its `path` is the file's, as with @fastify/static.
import type { Stats } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HeaderTarget } from '../head';
import type { Claimant } from '../responder';
import { slashRedirect } from './route-path';

/** Fastify keeps a request's route context under a symbol it does not export. */
let contextKey: symbol | null = null;

function routeContext(request: FastifyRequest): { onSend?: unknown } | undefined {
  const own = request as unknown as Record<symbol, { onSend?: unknown } | undefined>;
  if (contextKey === null || !Object.prototype.hasOwnProperty.call(request, contextKey)) {
    contextKey = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null;
  }
  return contextKey === null ? undefined : own[contextKey];
}

/**
 * Whether an onSend hook runs for this request's route (and so may read or
 * replace the payload). When Fastify's internals cannot be read, assume one
 * does: the stream path is always correct, only slower.
 */
export function hasOnSendHooks(request: FastifyRequest): boolean {
  const context = routeContext(request);
  if (context === undefined || !('onSend' in context)) return true;
  return context.onSend !== null;
}

export interface ReplyHooks {
  setHeaders: ((reply: FastifyReply, path: string, stat: Stats) => void) | null;
  /** preCompressed: every file response varies on Accept-Encoding. */
  vary: boolean;
  /** A directory with no index to answer it: true if listed (a listing is on its way). */
  directory: ((claim: ReplyClaim, dir: string, trailingSlash: boolean) => boolean) | null;
}

const VARY_TOKEN = 'accept-encoding';

/** Vary with accept-encoding added, unless it (or `*`) is there. */
export function withAcceptEncoding(current: number | string | readonly string[] | undefined): string | null {
  if (current === undefined) return VARY_TOKEN;
  const value = Array.isArray(current) ? current.join(', ') : String(current);
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === VARY_TOKEN || t === '*') return null;
  }
  return `${value}, ${VARY_TOKEN}`;
}

export class ReplyClaim implements Claimant, HeaderTarget {
  readonly fields: HeaderTarget = this;
  readonly relay?: (body: Readable, path: string) => void;

  constructor(
    readonly request: FastifyRequest,
    readonly reply: FastifyReply,
    /** The request's path below the prefix. */
    readonly pathname: string,
    private readonly owned: readonly string[],
    private readonly hooks: ReplyHooks,
  ) {
    if (hasOnSendHooks(request)) this.relay = (body, path) => this.send(body, path);
  }

  get statusCode(): number {
    return this.reply.statusCode;
  }

  set statusCode(status: number) {
    this.reply.code(status);
  }

  getHeaderNames(): string[] {
    return Object.keys(this.reply.getHeaders());
  }

  getHeaders(): OutgoingHttpHeaders {
    return this.reply.getHeaders() as OutgoingHttpHeaders;
  }

  setHeader(name: string, value: number | string | readonly string[]): void {
    this.reply.header(name, value);
  }

  removeHeader(name: string): void {
    this.reply.removeHeader(name);
  }

  /** Zero-copy from here: the reply's status and fields go on the raw response, and Fastify lets go. */
  hijack(): void {
    const raw = this.reply.raw;
    raw.writeHead(raw.statusCode, this.reply.getHeaders() as OutgoingHttpHeaders);
    this.reply.hijack();
  }

  setHeaders(path: string, stat: Stats): void {
    const reply = this.reply;
    for (const name of this.owned) if (reply.hasHeader(name)) reply.removeHeader(name);
    this.hooks.setHeaders?.(reply, path, stat);
    if (this.hooks.vary) {
      const vary = withAcceptEncoding(reply.getHeader('vary') as string | string[] | undefined);
      if (vary !== null) reply.header('vary', vary);
    }
  }

  directory(dir: string, trailingSlash: boolean): boolean {
    return this.hooks.directory?.(this, dir, trailingSlash) ?? false;
  }

  redirect(): void {
    void this.reply.redirect(slashRedirect(this.request.raw.url ?? '/'), 301);
  }

  private send(body: Readable, path: string): void {
    void this.reply.send(Object.assign(body, { path }));
  }
}
