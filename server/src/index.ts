// Public API: createHandler(), createServer(), serveStatic(), engines().
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

/** An http.Server that serves `root` (call .listen() yourself). */
export function createServer(root: string, opts?: SluiceOptions | null): SluiceServer {
  const { responder, engine, engineNote, root: absRoot } = build(root, opts);
  const { respond } = responder;
  const server = http.createServer((req, res) => respond(req, res));
  return Object.assign(server, { sluice: { engine, engineNote, root: absRoot } });
}
