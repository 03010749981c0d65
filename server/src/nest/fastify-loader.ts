// The Fastify platform: sluice/fastify registered where
// @nestjs/serve-static registers @fastify/static (a route per file,
// `wildcard: false`, under `serveRoot`), and the SPA fallback route
// sending index.html through the same plugin machinery, so it keeps the
// reply's headers and hooks and goes zero-copy with an ETag and ranges.
// As with @nestjs/serve-static, the fallback answers 404 unless
// `serveStaticOptions.fallthrough` is true; unlike it, `exclude` applies
// here too (an excluded path goes to Fastify's not-found handler).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundException } from '@nestjs/common';
import sluiceStatic from '../fastify';
import { StaticFiles } from '../fastify/files';
import { staticConfig, type SluicePluginOptions } from '../fastify/options';
import {
  DEFAULT_FASTIFY_RENDER_PATH,
  DEFAULT_ROOT_PATH,
  isRouteExcluded,
  renderRouteOf,
  serveRootOf,
  type ServeStaticModuleOptions,
  type ServeStaticOptions,
} from './options';

/** @fastify/static's options from serve-static's: `fallthrough` is the module's, `precompressed` and `compress` Express's. */
export function pluginOptionsOf(clientPath: string, serveRoot: string | undefined, opts: ServeStaticOptions | undefined): SluicePluginOptions {
  const { fallthrough: _f, precompressed: _p, compress: _c, ...rest } = opts ?? {};
  const out = { root: clientPath, ...rest, wildcard: false } as SluicePluginOptions;
  if (serveRoot) out.prefix = serveRoot;
  return out;
}

function notFound(reply: FastifyReply): void {
  const error = new NotFoundException();
  void reply.status(error.getStatus()).send(error.getResponse());
}

/** The fallback's sender: the plugin's defaults, with the module's precompression and engine choices. */
function indexSender(app: FastifyInstance, clientPath: string, opts: ServeStaticOptions | undefined): StaticFiles {
  const config = staticConfig(app, {
    root: clientPath,
    serve: false,
    decorateReply: false,
    suppressWarning: true,
    preCompressed: opts?.preCompressed,
    engine: opts?.engine,
    symlinks: opts?.symlinks,
    sendTimeout: opts?.sendTimeout,
  });
  return new StaticFiles(config);
}

type Render = (request: FastifyRequest, reply: FastifyReply) => void;

function renderHandler(app: FastifyInstance, options: ServeStaticModuleOptions, clientPath: string): Render {
  const opts = options.serveStaticOptions;
  const indexFile = path.join(clientPath, 'index.html');
  const files = indexSender(app, clientPath, opts);
  return (request, reply) => {
    if (options.exclude !== undefined && isRouteExcluded(request.raw, options.exclude)) return void reply.callNotFound();
    if (!opts?.fallthrough) return notFound(reply);
    fs.stat(indexFile, (err, stat) => {
      if (err) return notFound(reply);
      if (opts.setHeaders) opts.setHeaders(reply, indexFile, stat);
      files.send(request, reply, '/index.html', [clientPath]);
    });
  };
}

/** Registers one ServeStaticModuleOptions on a Fastify instance. */
export function registerFastify(instance: unknown, globalPrefix: string, options: ServeStaticModuleOptions): void {
  const app = instance as FastifyInstance;
  const clientPath = path.resolve(options.rootPath ?? DEFAULT_ROOT_PATH);
  const serveRoot = serveRootOf(options, globalPrefix);
  void app.register(sluiceStatic, pluginOptionsOf(clientPath, serveRoot, options.serveStaticOptions));
  const route = renderRouteOf(serveRoot, options.renderPath ?? DEFAULT_FASTIFY_RENDER_PATH);
  app.get(route as string, renderHandler(app, options, clientPath));
}
