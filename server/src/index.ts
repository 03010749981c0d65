// Public API: createHandler(), createServer(), createSecureServer(),
// serveStatic(), sendFile(), engines().
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { AUTO_SMALL_FILE_MAX, engines, smallFileMaxFor, TLS_SMALL_FILE_MAX, type EngineName, type EngineReport } from './engines';
import { answerOnStreams } from './engines';
import { attachFrontDoor, FRONT_DOOR_RESPONSE, frontDoorAware, frontDoorUnavailableReason, type FrontDoorControl } from './engines/front-door';
import { streamReport } from './access-log';
import { recordDeliveries } from './deliver';
import type { SluiceOptions, SymlinkPolicy } from './options';
import type { Next } from './responder';
import { answerBeforeClosing } from './connections';
import { build, type Built } from './setup';
import { fetchListener, type FetchHandler, type FileDefaults } from './fetch/server';
import { metricsOption, ServerMetrics, type MetricsListen, type MetricsOption } from './metrics';
import type { WarmSummary } from './compress-warm';
import { attachProxy, FallbackProxy, resolveProxy } from './proxy';

export type { EngineName, EngineReport, SluiceOptions, SymlinkPolicy, Next };
export type { CompressOption, CorsOption, ProxyOption } from './options';
export type { AuthOption } from './auth';
export type { WarmSummary } from './compress-warm';
export type { HeaderRule, HeaderEntry, RewriteRule, RedirectRule } from './rules';
export type { ContentCoding } from './negotiate';
export { engines, frontDoorUnavailableReason };
export type { FrontDoorResponse } from './engines/front-door';
export type { MetricsOption, MetricsListen, ServerMetrics } from './metrics';
export { frontDoorAware };
export { SluiceError } from './errors';
export { HttpError } from './http-error';
export { sendFile, type SendFileOptions, type SendFileCallback } from './send-file';
export { file, type FileOptions } from './fetch/file';
export type { FetchHandler, FetchContext } from './fetch/server';

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
    /** The server's Prometheus metrics (the `metrics` option), or null. */
    metrics: ServerMetrics | null;
    /** The compress warm-up (`compress: { warm: true }`), or null; the server also emits 'compressWarm' with it. */
    compressWarm: Promise<WarmSummary> | null;
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
   * A fetch-style handler that answers every request: it gets a Web
   * Request (and a context whose file() resolves against root with these
   * options) and returns a Response. A Response made by file() is sent
   * zero-copy through sluice's engines; any other is written as a fetch
   * host writes it. The front door is off: the handler sees every request.
   */
  fetch?: FetchHandler;
  /**
   * Prometheus metrics (README, Metrics). `true` collects them
   * (server.sluice.metrics.text() gives the text format); `{ port, host }`
   * also serves them on a listener of their own, at /metrics, from the
   * server's 'listening' to its 'close' (then 'metricsListening' carries its
   * address). Default off.
   */
  metrics?: MetricsOption;
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
  const {
    keepAliveTimeout: _k,
    headersTimeout: _h,
    requestTimeout: _r,
    frontDoor: wantDoor,
    fetch: handler,
    metrics: wantMetrics,
    intercept,
    ...rest
  } = opts ?? {};
  const timeouts = serverTimeouts(opts ?? {});
  const metricsWanted = metricsOption(wantMetrics);
  const proxy = proxyFor(rest);
  const built = build(root, rest);
  const { responder, engine, engineNote, root: absRoot } = built;
  const server = http.createServer(timeouts, intercepted(intercept, requestListener(built, handler, rest)));
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
  const { door, note } =
    handler === undefined
      ? frontDoorFor(server, wantDoor, built, rest, timeouts.keepAliveTimeout)
      : { door: null, note: 'front door off (a fetch handler answers every request)' };
  const metrics = metricsWanted === null ? null : watchMetrics(server, door, metricsWanted.listen);
  built.warm?.then((summary) => server.emit('compressWarm', summary)).catch(() => undefined);
  const sluice = {
    engine,
    engineNote,
    root: absRoot,
    frontDoor: door,
    metrics,
    compressWarm: built.warm,
    get frontDoorNote(): string {
      const off = door?.offReason() ?? '';
      return off === '' ? note : `front door off (${off})`;
    },
  };
  return Object.assign(server, { sluice });
}

/** createServer's 'request' listener: the responder, or the fetch handler with file() bodies sent through the same engines. */
function requestListener(built: Built, handler: unknown, opts: SluiceOptions): http.RequestListener {
  const { respond } = built.responder;
  if (handler === undefined) return (req, res) => respond(req, res);
  if (typeof handler !== 'function') {
    const err = new TypeError(`The "fetch" option must be a function (request, context) => Response. Received ${String(handler)}`);
    (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  return fetchListener(handler as FetchHandler, built.transports, fileDefaults(built.root, opts));
}

/** The server's options that file() takes, for its fetch handler's context.file(). */
function fileDefaults(root: string, opts: SluiceOptions): FileDefaults {
  const { maxAge, dotfiles, acceptRanges, cacheControl, immutable, lastModified, etag, index, extensions, precompressed, symlinks } = opts;
  const picked = {
    maxAge,
    dotfiles,
    acceptRanges,
    cacheControl,
    immutable,
    lastModified,
    etag: etag as boolean | undefined,
    index,
    extensions,
    precompressed,
    symlinks,
  };
  const defined = Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined));
  return { root, ...defined };
}

/** The server's metrics, and their listener from the server's 'listening' to its 'close'. */
function watchMetrics(server: http.Server, door: FrontDoorControl | null, listen: MetricsListen | null): ServerMetrics {
  const metrics = new ServerMetrics();
  metrics.watch(server, door);
  if (listen === null) return metrics;
  server.on('listening', () => {
    metrics.listen(
      listen,
      (listener) => server.emit('metricsListening', listener.address()),
      (err) => server.emit('error', Object.assign(err, { metricsListener: true })),
    );
  });
  server.on('close', () => metrics.close());
  return metrics;
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
  /**
   * With `http2`: answer GET and HEAD streams on Node's core HTTP/2 API
   * rather than its compatibility layer (README, Engines: HTTPS). Default
   * true; false gives every stream to the 'request' listeners as
   * Http2ServerRequest and Http2ServerResponse.
   */
  frontDoor?: boolean;
}

export type SluiceSecureServer = (https.Server | http2.Http2SecureServer) & {
  readonly sluice: {
    engine: EngineName;
    engineNote: string;
    root: string;
    http2: boolean;
    /** Whether HTTP/2 GET and HEAD streams are answered on Node's core API rather than its compatibility layer. */
    streams: boolean;
    metrics: ServerMetrics | null;
  };
};

/**
 * An HTTPS server (HTTP/1.1, and HTTP/2 through ALPN with `http2: true`)
 * that serves `root`. TLS encrypts in user space, so bodies go through the
 * copy engine, which `auto` picks here.
 */
export function createSecureServer(root: string, opts: SecureServerOptions): SluiceSecureServer {
  const { keepAliveTimeout: _k, headersTimeout: _h, requestTimeout: _r, tls, http2: h2, frontDoor: wantCore, metrics: wantMetrics, intercept, ...rest } = opts;
  const metricsWanted = metricsOption(wantMetrics);
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
  // With an intercept the listener is not front-door-aware: HTTP/2 streams then all go through it (none is answered on the core API before it).
  const handler =
    intercept === undefined
      ? frontDoorAware((req: http.IncomingMessage, res: http.ServerResponse): void => respond(req, res))
      : intercepted(intercept, respond);
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
  const streams = h2 === true && coreStreams(server as http2.Http2SecureServer, wantCore, respond);
  const metrics = metricsWanted === null ? null : watchMetrics(server as unknown as http.Server, null, metricsWanted.listen);
  return Object.assign(server, { sluice: { engine, engineNote, root: absRoot, http2: Boolean(h2), streams, metrics } });
}

/**
 * HTTP/2 GET and HEAD streams answered on the core API (engines/h2-stream.ts)
 * unless `frontDoor: false`; what they answered is reported as
 * 'frontDoorResponse' while anything listens.
 */
function coreStreams(server: http2.Http2SecureServer, wanted: unknown, respond: (req: http.IncomingMessage, res: http.ServerResponse) => void): boolean {
  if (wanted !== undefined && typeof wanted !== 'boolean') {
    const err = new TypeError(`The "frontDoor" option must be a boolean. Received ${String(wanted)}`);
    (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  if (wanted === false) return false;
  return answerOnStreams(server, {
    respond: (req, res) => respond(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse),
    reporting: () => {
      const on = server.listenerCount(FRONT_DOOR_RESPONSE) > 0;
      if (on) recordDeliveries();
      return on;
    },
    closed: (req, res) => server.emit(FRONT_DOOR_RESPONSE, streamReport(req, res)),
  });
}
