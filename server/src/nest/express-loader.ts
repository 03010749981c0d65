// The Express platform: sluice's serveStatic where @nestjs/serve-static
// mounts express.static, and sluice's sendFile for the SPA fallback
// (index.html for every other GET under the render path), with the same
// error middleware: a missing file becomes Nest's NotFoundException, an
// excluded route a plain "Cannot GET /path", anything else goes on.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { HttpException, Logger, NotFoundException } from '@nestjs/common';
import { serveStatic, sendFile, type SluiceOptions } from '../index';
import type { DotfilePolicy } from '../resolve';
import {
  DEFAULT_EXPRESS_RENDER_PATH,
  DEFAULT_ROOT_PATH,
  isRouteExcluded,
  renderRouteOf,
  serveRootOf,
  type ServeStaticModuleOptions,
  type ServeStaticOptions,
} from './options';

type Next = (err?: unknown) => void;
type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
type ErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** The Express application calls the loader makes. */
export interface ExpressApp {
  use(...args: unknown[]): unknown;
  get(path: string | RegExp, handler: Handler): unknown;
}

/** Express's response methods the fallback answers a miss with. */
interface ExpressResponse {
  status(code: number): { send(body: unknown): void };
}

/** What Nest's HTTP adapter tells of a request. */
export interface AdapterRequests {
  getRequestMethod(req: unknown): string;
  getRequestUrl(req: unknown): string;
}

const logger = new Logger('ExpressLoader');

/** serve-static's options as sluice's (the same names; sluice's extras pass as they are). */
export function sluiceOptionsOf(opts: ServeStaticOptions | undefined): SluiceOptions {
  if (opts === undefined) return {};
  const { preCompressed: _p, decorateReply: _d, dotfiles, index, ...rest } = opts;
  const out: SluiceOptions = { ...rest, setHeaders: opts.setHeaders as SluiceOptions['setHeaders'] };
  if (dotfiles !== undefined) out.dotfiles = dotfiles as DotfilePolicy;
  if (index !== undefined) out.index = index === true ? 'index.html' : index;
  return out;
}

function sendIndex(req: IncomingMessage, res: ServerResponse, indexFile: string, opts: ServeStaticOptions | undefined): void {
  const send = { precompressed: opts?.precompressed ?? true, engine: opts?.engine, symlinks: opts?.symlinks };
  sendFile(req, res, indexFile, send, (err?: Error) => {
    if (!err) return;
    if (res.headersSent) {
      // The head is on the wire: its Content-Length can no longer be kept.
      if ((err as NodeJS.ErrnoException).code !== 'ECONNABORTED') {
        logger.error(`Failed to send "${indexFile}" after the response had started: ${err.message}`);
      }
      res.destroy();
      return;
    }
    const error = new NotFoundException(err.message);
    (res as unknown as ExpressResponse).status(error.getStatus()).send(error.getResponse());
  });
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

function renderHandler(options: ServeStaticModuleOptions, indexFile: string): Handler {
  const opts = options.serveStaticOptions;
  return (req, res, next) => {
    if (isRouteExcluded(req as IncomingMessage & { originalUrl?: string }, options.exclude)) return next();
    if (opts?.setHeaders) {
      // A missing index.html is sendFile's to report (as a 404 without the path).
      const stat = statOrNull(indexFile);
      if (stat !== null) opts.setHeaders(res, indexFile, stat);
    }
    sendIndex(req, res, indexFile, opts);
  };
}

function errorHandler(options: ServeStaticModuleOptions, adapter: AdapterRequests): ErrorHandler {
  return (err, req, _res, next) => {
    // What the application raised is already a deliberate response.
    if (err instanceof HttpException) throw err;
    const e = err as { code?: string; message?: string } | undefined;
    // Only a missing file is this middleware's business.
    if (e?.code !== 'ENOENT' && !e?.message?.includes('ENOENT')) return next(err);
    if (isRouteExcluded(req as IncomingMessage & { originalUrl?: string }, options.exclude)) {
      return next(new NotFoundException(`Cannot ${adapter.getRequestMethod(req)} ${adapter.getRequestUrl(req)}`));
    }
    if (e.message?.includes('ENOENT')) throw new NotFoundException(e.message);
    throw new NotFoundException(`ENOENT: ${e.message}`);
  };
}

/** Mounts one ServeStaticModuleOptions on an Express app. */
export function registerExpress(app: ExpressApp, adapter: AdapterRequests, globalPrefix: string, options: ServeStaticModuleOptions): void {
  const clientPath = options.rootPath ?? DEFAULT_ROOT_PATH;
  const indexFile = path.resolve(clientPath, 'index.html');
  const serveRoot = serveRootOf(options, globalPrefix);
  const files = serveStatic(clientPath, sluiceOptionsOf(options.serveStaticOptions));
  const render = renderHandler(options, indexFile);
  if (serveRoot) app.use(serveRoot, files);
  else app.use(files);
  app.get(renderRouteOf(serveRoot, options.renderPath ?? DEFAULT_EXPRESS_RENDER_PATH), render);
  app.use(errorHandler(options, adapter));
}
