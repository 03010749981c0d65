// Public API: createHandler(), createServer(), serveStatic(), engines().
import * as http from 'node:http';
import * as path from 'node:path';
import { chooseEngine, engines, type EngineName, type EngineReport } from './engines';
import { resolveOptions, type SluiceOptions } from './options';
import { createResponder, type Next } from './responder';

export type { EngineName, EngineReport, SluiceOptions };
export { engines };
export { SluiceError } from './errors';

/** A request handler for http.createServer (or https: TLS uses copy). */
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

function checkRoot(root: unknown): string {
  // serve-static's messages, so code that matches on them keeps working.
  if (!root) throw new TypeError('root path required');
  if (typeof root !== 'string') throw new TypeError('root path must be a string');
  return path.resolve(root);
}

function build(root: unknown, opts: SluiceOptions | undefined) {
  const absRoot = checkRoot(root);
  const resolved = resolveOptions(opts);
  const choice = chooseEngine(resolved.engine, { maxChunk: resolved.maxChunk });
  return { respond: createResponder(absRoot, resolved, choice.engine), choice };
}

/** A handler for a bare `http.createServer`: answers every request itself. */
export function createHandler(root: string, opts?: SluiceOptions): Handler {
  const { respond, choice } = build(root, opts);
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => respond(req, res);
  return Object.assign(handler, { engine: choice.engine.name, engineNote: choice.note });
}

/** A drop-in for Express's serve-static: same options, next() semantics. */
export function serveStatic(root: string, opts?: SluiceOptions): Middleware {
  const { respond, choice } = build(root, opts);
  const middleware = (req: http.IncomingMessage, res: http.ServerResponse, next: Next): void => respond(req, res, next);
  return Object.assign(middleware, { engine: choice.engine.name, engineNote: choice.note });
}

export interface SluiceServer extends http.Server {
  readonly sluice: { engine: EngineName; engineNote: string; root: string };
}

/** An http.Server that serves `root` (call .listen() yourself). */
export function createServer(root: string, opts?: SluiceOptions): SluiceServer {
  const handler = createHandler(root, opts);
  const server = http.createServer(handler);
  return Object.assign(server, { sluice: { engine: handler.engine, engineNote: handler.engineNote, root: path.resolve(root) } });
}
