// `sluice/fastify`: a Fastify plugin that serves a directory through the
// same responder as serveStatic, with zero-copy bodies. The handler takes
// the response over with reply.hijack() only when it is about to write it;
// what it does not answer goes back to Fastify: a missing file to the
// not-found handler (reply.callNotFound()), an error to the error handler
// (reply.send(err), with err.statusCode; err.headers are put on the reply).
//
//   fastify.register(require('sluice/fastify'), { root: 'public', prefix: '/static' })
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { SluiceOptions } from './options';
import { build } from './setup';

export interface SluicePluginOptions extends SluiceOptions {
  /** The directory to serve (required). */
  root: string;
  /** Fastify's own `prefix` register option mounts it, e.g. '/static'. */
  prefix?: string;
}

function fastifyPlugin(instance: FastifyInstance, opts: SluicePluginOptions, done: (err?: Error) => void): void {
  let built;
  try {
    // `prefix` belongs to Fastify; everything else is ours.
    const { root, prefix: _prefix, ...rest } = opts;
    built = build(root, rest);
  } catch (err) {
    return done(err as Error);
  }
  const { serve } = built.responder;
  const prefix = instance.prefix;

  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    const raw = request.raw;
    const originalUrl = raw.url ?? '/';
    let url = originalUrl.startsWith(prefix) ? originalUrl.slice(prefix.length) : originalUrl;
    // `/static` or `/static?x` is the mount point itself: serve-static's `/`.
    if (url === '' || url.charCodeAt(0) === 0x3f /* ? */) url = `/${url}`;
    const next = (err?: unknown): void => {
      // Headers sluice put on the raw response (a file's Content-Type,
      // validators) must not leak into Fastify's own reply: Fastify reads
      // them back (a text Content-Type would refuse a JSON error body).
      // Fastify keeps its own headers on the reply, not on raw.
      const res = reply.raw;
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      if (!err) return void reply.callNotFound();
      // Content-Range on a 416, Retry-After on a 503: Fastify's default
      // error handler would apply err.headers, a custom one would not.
      const headers = (err as { headers?: Record<string, string> }).headers;
      if (headers !== undefined) reply.headers(headers);
      reply.send(err);
    };
    serve(raw, reply.raw, next, url, originalUrl, { hijack: () => reply.hijack() });
  };

  instance.route({ method: ['GET', 'HEAD'], url: '/', handler });
  instance.route({ method: ['GET', 'HEAD'], url: '/*', handler });
  done();
}

Object.defineProperty(fastifyPlugin, Symbol.for('fastify.display-name'), { value: 'sluice' });

/** The plugin, typed for `fastify.register(sluice, { root })`. */
export const sluice: FastifyPluginCallback<SluicePluginOptions> = fastifyPlugin;
export default sluice;

// CommonJS: `require('sluice/fastify')` is the plugin itself, as with
// @fastify/static, with `.default` and `.sluice` for ESM and named imports.
module.exports = Object.assign(fastifyPlugin, { default: fastifyPlugin, sluice: fastifyPlugin, __esModule: true });
