// Public API: createHandler(), createServer(), serveStatic(), sendFile(), engines().
import * as http from 'node:http';
import { engines, type EngineName, type EngineReport } from './engines';
import type { SluiceOptions, SymlinkPolicy } from './options';
import type { Next } from './responder';
import { build } from './setup';

export type { EngineName, EngineReport, SluiceOptions, SymlinkPolicy, Next };
export type { ContentCoding } from './negotiate';
export { engines };
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
  const { responder, engine, engineNote } = build(root, opts);
  const { respond } = responder;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => respond(req, res);
  return Object.assign(handler, { engine, engineNote });
}

/** A drop-in for Express's serve-static: same options, next() semantics. */
export function serveStatic(root: string, opts?: SluiceOptions | null): Middleware {
  const { responder, engine, engineNote } = build(root, opts);
  const { respond } = responder;
  const middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: Next): void => respond(req, res, next);
  return Object.assign(middleware, { engine, engineNote });
}

export interface SluiceServer extends http.Server {
  readonly sluice: { engine: EngineName; engineNote: string; root: string };
}

/** createServer's own options: the connection timeouts of the http.Server. */
export interface ServerOptions extends SluiceOptions {
  /** Idle time (ms) before a kept-alive connection is closed. Default 5000. */
  keepAliveTimeout?: number;
  /** Time (ms) a client has to send the request head (slowloris). Default 20000. */
  headersTimeout?: number;
  /** Time (ms) a client has to send the whole request. Default 30000. */
  requestTimeout?: number;
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

/** An http.Server that serves `root` (call .listen() yourself). */
export function createServer(root: string, opts?: ServerOptions | null): SluiceServer {
  const { keepAliveTimeout, headersTimeout, requestTimeout, ...rest } = opts ?? {};
  const keepAlive = timeout(keepAliveTimeout, 'keepAliveTimeout', 5000);
  const headers = timeout(headersTimeout, 'headersTimeout', 20_000);
  const request = timeout(requestTimeout, 'requestTimeout', 30_000);
  const { responder, engine, engineNote, root: absRoot } = build(root, rest);
  const { respond } = responder;
  const server = http.createServer(
    {
      keepAliveTimeout: keepAlive,
      headersTimeout: headers,
      requestTimeout: request,
      // Node looks for expired heads and requests on this period (30 s by
      // default), so a slowloris would outlive headersTimeout by that much.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headers || 1000, request || 1000)),
    },
    (req, res) => respond(req, res),
  );
  server.keepAliveTimeout = keepAlive;
  return Object.assign(server, { sluice: { engine, engineNote, root: absRoot } });
}
