// Public API: createHandler(), createServer(), createSecureServer(),
// serveStatic(), sendFile(), engines().
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { AUTO_SMALL_FILE_MAX, engines, smallFileMaxFor, TLS_SMALL_FILE_MAX, type EngineName, type EngineReport } from './engines';
import { attachFrontDoor, frontDoorUnavailableReason, type FrontDoorControl } from './engines/front-door';
import type { SluiceOptions, SymlinkPolicy } from './options';
import type { Next } from './responder';
import { answerBeforeClosing } from './connections';
import { build, type Built } from './setup';
import { attachProxy, FallbackProxy, resolveProxy } from './proxy';

export type { EngineName, EngineReport, SluiceOptions, SymlinkPolicy, Next };
export type { CompressOption, CorsOption, ProxyOption } from './options';
export type { HeaderRule, HeaderEntry, RewriteRule, RedirectRule } from './rules';
export type { ContentCoding } from './negotiate';
export { engines, frontDoorUnavailableReason };
export type { FrontDoorResponse } from './engines/front-door';
export { frontDoorAware } from './engines/front-door';
export { SluiceError } from './errors';
export { HttpError } from './http-error';
export { sendFile, type SendFileOptions, type SendFileCallback } from './send-file';

/** A request handler for http.createServer (or https / http2: those use copy). */
export interface Handler {
  (req: http.IncomingMessage, res: http.ServerResponse): void;
  /** The engine this handler sends bodies with. */
  readonly engine: EngineName;
  /** What was chosen and why, for a start-up line. */
  readonly engineNote: string;
}

/** Connect/Express middleware (serve-static's signature). */
export interface Middleware {
  (req: http.IncomingMessage, res: http.ServerResponse, next: Next): void;
  readonly engine: EngineName;
  readonly engineNote: string;
}

/** A handler for a bare `http.createServer`: answers every request itself. */
export function createHandler(root: string, opts?: SluiceOptions | null): Handler {
  const proxy = proxyFor(opts);
  const { responder, engine, engineNote } = build(root, opts);
  if (proxy !== null) responder.passMiss = proxy.forward;
  const { respond } = responder;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => respond(req, res);
  return Object.assign(handler, { engine, engineNote });
}

/** A drop-in for Express's serve-static: same options, next() semantics. */
export function serveStatic(root: string, opts?: SluiceOptions | null): Middleware {
  if (opts?.proxy !== undefined) throw proxyError('The "proxy" option is for createServer and createHandler: a middleware passes misses to next()');
  const { responder, engine, engineNote } = build(root, opts);
  const { respond } = responder;
  const middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: Next): void => respond(req, res, next);
  return Object.assign(middleware, { engine, engineNote });
}

export interface SluiceServer extends http.Server {
  readonly sluice: {
    engine: EngineName;
    engineNote: string;
    root: string;
    /** The native front door, when it answers this server's plain requests (null: off, and why in frontDoorNote). */
    frontDoor: FrontDoorControl | null;
    /** `front door on`, or `front door off (why)`; once listening, whether it took the listener. */
    readonly frontDoorNote: string;
  };
}

/** createServer's own options: the connection timeouts of the http.Server. */
export interface ServerOptions extends SluiceOptions {
  /** Idle time (ms) before a kept-alive connection is closed. Default 5000. */
  keepAliveTimeout?: number;
  /** Time (ms) a client has to send the request head (slowloris). Default 20000. */
  headersTimeout?: number;
  /** Time (ms) a client has to send the whole request. Default 30000. */
  requestTimeout?: number;
  /**
   * Answer plain GET/HEAD requests natively, without Node's HTTP layer, with
   * the bytes Node would write (README, Front door). Default true where the
   * addon has it and the engine is not copy; false turns it off.
   */
  frontDoor?: boolean;
  /**
   * Runs first for every request (the front door's replays included); it
   * returns true when it has answered the request itself (a 401, a
   * generated robots.txt), false to let sluice serve it. The http-server
   * mode's basic auth and -r use it. A reply it gives is never kept by the
   * front door unless it is a 200 with a file body, which it cannot be.
   */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

function timeout(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    const err = new TypeError(`The "${name}" option must be a non-negative integer (ms). Received ${String(value)}`);
    (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  return value;
}

/** The http.Server options for createServer's timeouts, validated. */
function serverTimeouts(opts: ServerOptions): http.ServerOptions & { keepAliveTimeout: number } {
  const keepAlive = timeout(opts.keepAliveTimeout, 'keepAliveTimeout', 5000);
  const headers = timeout(opts.headersTimeout, 'headersTimeout', 20_000);
  const request = timeout(opts.requestTimeout, 'requestTimeout', 30_000);
  return {
    keepAliveTimeout: keepAlive,
    headersTimeout: headers,
    requestTimeout: request,
    // Node looks for expired heads and requests on this period (30 s by
    // default), so a slowloris would outlive headersTimeout by that much.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, headers || 1000, request || 1000)),
  };
}

/** The request listener: `intercept` first when there is one. */
function intercepted(
  intercept: ServerOptions['intercept'],
  respond: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  if (intercept === undefined) return (req, res) => respond(req, res);
  if (typeof intercept !== 'function') throw proxyError(`The "intercept" option must be a function. Received ${String(intercept)}`);
  return (req, res) => {
    if (!intercept(req, res)) respond(req, res);
  };
}

function proxyError(message: string): TypeError {
  const err = new TypeError(message);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** The fallback proxy the options ask for, or null. */
function proxyFor(opts: SluiceOptions | null | undefined): FallbackProxy | null {
  const spec = resolveProxy(opts?.proxy);
  if (spec === null) return null;
  if (opts?.single === true) throw proxyError('The "single" and "proxy" options exclude each other: with a proxy, every miss goes to the upstream');
  return new FallbackProxy(spec.target, spec.timeout, spec.upgrades);
}

/** An http.Server that serves `root` (call .listen() yourself). */
export function createServer(root: string, opts?: ServerOptions | null): SluiceServer {
  const { keepAliveTimeout: _k, headersTimeout: _h, requestTimeout: _r, frontDoor: wantDoor, intercept, ...rest } = opts ?? {};
  const timeouts = serverTimeouts(opts ?? {});
  const proxy = proxyFor(rest);
  const built = build(root, rest);
  const { responder, engine, engineNote, root: absRoot } = built;
  const { respond } = responder;
  const server = http.createServer(timeouts, intercepted(intercept, respond));
  if (proxy !== null) {
    responder.passMiss = proxy.forward;
    attachProxy(server, proxy);
  }
  // close() drops the listener at once: from then on the health path says 503.
  responder.draining = () => !server.listening;
  server.keepAliveTimeout = timeouts.keepAliveTimeout;
  // A half-close or a malformed request ends a connection only after the
  // requests before it are answered.
  answerBeforeClosing(server);
  const { door, note } = frontDoorFor(server, wantDoor, built, rest, timeouts.keepAliveTimeout);
  const sluice = {
    engine,
    engineNote,
    root: absRoot,
    frontDoor: door,
    get frontDoorNote(): string {
      const off = door?.offReason() ?? '';
      return off === '' ? note : `front door off (${off})`;
    },
  };
  return Object.assign(server, { sluice });
}

/** The front door `createServer` was asked for, and a line saying whether it is on and why not. */
function frontDoorFor(
  server: http.Server,
  wanted: unknown,
  built: Built,
  opts: SluiceOptions,
  keepAliveMs: number,
): { door: FrontDoorControl | null; note: string } {
  if (wanted !== undefined && typeof wanted !== 'boolean') {
    const err = new TypeError(`The "frontDoor" option must be a boolean. Received ${String(wanted)}`);
    (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  if (wanted === false) return { door: null, note: 'front door off (turned off)' };
  const { engine, compressing } = built;
  const why = engine === 'copy' ? 'the copy engine was chosen' : frontDoorUnavailableReason();
  const door = why === '' ? attachFrontDoor(server, frontDoorOptions(opts, keepAliveMs, compressing)) : null;
  return door ? { door, note: 'front door on' } : { door: null, note: `front door off (${why || 'unavailable'})` };
}

function frontDoorOptions(opts: SluiceOptions, keepAliveMs: number, codingsPending: boolean): Parameters<typeof attachFrontDoor>[1] {
  return {
    keepAliveMs,
    firstRequestMs: 1000,
    sendTimeoutMs: opts.sendTimeout ?? 60_000,
    maxChunk: opts.maxChunk ?? 2 * 1024 * 1024,
    smallMax: opts.smallFileMax ?? AUTO_SMALL_FILE_MAX,
    codingsPending,
  };
}

/** Key material for createSecureServer: PEM `cert` and `key`, or a PKCS#12 `pfx`, with an optional passphrase. */
export interface TlsMaterial {
  cert?: string | Buffer;
  key?: string | Buffer;
  pfx?: string | Buffer;
  passphrase?: string;
  /**
   * 48 bytes that encrypt TLS session tickets (Node's `ticketKeys`). Servers
   * that share them resume each other's sessions (the CLI's --workers share
   * one random set); by default each server makes its own.
   */
  ticketKeys?: Buffer;
}

export interface SecureServerOptions extends ServerOptions {
  tls: TlsMaterial;
  /** Offer HTTP/2 through ALPN (HTTP/1.1 clients are still served). Default false. */
  http2?: boolean;
}

export type SluiceSecureServer = (https.Server | http2.Http2SecureServer) & {
  readonly sluice: { engine: EngineName; engineNote: string; root: string; http2: boolean };
};

/**
 * An HTTPS server (HTTP/1.1, and HTTP/2 through ALPN with `http2: true`)
 * that serves `root`. TLS encrypts in user space, so bodies go through the
 * copy engine, which `auto` picks here.
 */
export function createSecureServer(root: string, opts: SecureServerOptions): SluiceSecureServer {
  const { keepAliveTimeout: _k, headersTimeout: _h, requestTimeout: _r, tls, http2: h2, intercept, ...rest } = opts;
  if (typeof tls !== 'object' || tls === null || (tls.pfx === undefined && (tls.cert === undefined || tls.key === undefined))) {
    const err = new TypeError('The "tls" option must name a cert and a key, or a pfx');
    (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  const timeouts = serverTimeouts(opts);
  // Files up to 64 KiB go from memory with the head (one write) unless an
  // engine was named; every body is copied either way.
  const unnamed = rest.engine === undefined || rest.engine === 'auto';
  const small = rest.smallFileMax ?? (unnamed ? TLS_SMALL_FILE_MAX : smallFileMaxFor(rest.engine ?? 'auto'));
  const proxy = proxyFor(rest);
  const { responder, engine, engineNote, root: absRoot } = build(root, { ...rest, engine: rest.engine ?? 'copy', smallFileMax: small });
  if (proxy !== null) responder.passMiss = proxy.forward;
  const { respond } = responder;
  const handler = intercepted(intercept, respond);
  // noDelay: a response written as more than one TLS record must not wait
  // for the client's delayed ACK (40 ms) before its later records go out
  // (https servers set it already; http2's do not).
  const secure = { ...tls, noDelay: true };
  const server = h2
    ? http2.createSecureServer({ ...secure, allowHTTP1: true }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
    : https.createServer({ ...secure, ...timeouts }, handler);
  if (!h2) (server as https.Server).keepAliveTimeout = timeouts.keepAliveTimeout;
  if (proxy !== null) attachProxy(server as https.Server, proxy);
  responder.draining = () => !server.listening;
  return Object.assign(server, { sluice: { engine, engineNote, root: absRoot, http2: Boolean(h2) } });
}
