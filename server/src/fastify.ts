// `sluice/fastify`: a drop-in for @fastify/static. The same options with
// the same defaults and errors, the same routes (a wildcard under
// `prefix`, or one route per file with `wildcard: false`), the
// `reply.sendFile()` and `reply.download()` decorators, directory listings,
// and Fastify's lifecycle: headers already on the reply are sent, hooks
// run, a missing file goes to the not-found handler and every other
// refusal to the error handler. Bodies go zero-copy unless an onSend hook
// (yours, @fastify/compress's) may replace the payload: then they go
// through Fastify as a stream (see fastify/reply.ts).
//
//   fastify.register(require('sluice/fastify'), { root: path.join(__dirname, 'public'), prefix: '/static/' })
import * as path from 'node:path';
import { create as contentDisposition } from 'content-disposition';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema, RouteOptions } from 'fastify';
import type * as Errors from './fastify/errors';
import { errors, forbiddenError } from './fastify/errors';
import { StaticFiles } from './fastify/files';
import { filesBelow } from './fastify/glob';
import type * as Options from './fastify/options';
import { staticConfig, type SendOptions, type SluicePluginOptions, type StaticConfig } from './fastify/options';
import { prefixMatcher, routeTarget, slashRedirect, type PrefixMatcher } from './fastify/route-path';

declare module 'fastify' {
  interface FastifyReply {
    sendFile(filename: string, rootPath?: string): FastifyReply;
    sendFile(filename: string, options?: SendOptions): FastifyReply;
    sendFile(filename: string, rootPath?: string, options?: SendOptions): FastifyReply;
    download(filepath: string, options?: SendOptions & { root?: string }): FastifyReply;
    download(filepath: string, filename?: string): FastifyReply;
    download(filepath: string, filename?: string, options?: SendOptions & { root?: string }): FastifyReply;
  }
}

type RouteBase = Pick<RouteOptions, 'constraints' | 'logLevel' | 'errorHandler' | 'schema'>;

function routeBase(fastify: FastifyInstance, config: StaticConfig): RouteBase {
  return {
    constraints: config.route.constraints,
    logLevel: config.route.logLevel,
    // `hide` is what documentation plugins (@fastify/swagger) read.
    schema: config.route.schema as FastifySchema,
    // A client that went away mid-stream is no error to answer.
    errorHandler(error, request, reply) {
      if ((error as { code?: string } | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
        reply.request.raw.destroy();
        return;
      }
      return fastify.errorHandler(error, request, reply);
    },
  };
}

function decorate(fastify: FastifyInstance, files: StaticFiles, config: StaticConfig): void {
  fastify.decorateReply('sendFile', function (this: FastifyReply, file: string, rootPath?: string | SendOptions, options?: SendOptions) {
    const opts = typeof rootPath === 'object' ? rootPath : options;
    const root = typeof rootPath === 'string' ? rootPath : (opts as { root?: string } | undefined)?.root;
    files.send(this.request, this, file, root ? [root] : config.roots, opts);
    return this;
  });
  fastify.decorateReply('download', function (this: FastifyReply, file: string, fileName?: string | SendOptions, options: SendOptions = {}) {
    const { root, ...opts } = (typeof fileName === 'object' ? fileName : options) as SendOptions & { root?: string };
    const name = typeof fileName === 'string' ? fileName : file;
    this.header('content-disposition', contentDisposition(path.basename(name)));
    files.send(this.request, this, file, root ? [root] : config.roots, opts);
    return this;
  });
}

function wildcardRoutes(fastify: FastifyInstance, files: StaticFiles, config: StaticConfig, base: RouteBase): void {
  let match: PrefixMatcher | undefined;
  fastify.route({
    ...base,
    method: ['HEAD', 'GET'],
    url: `${config.prefix}*`,
    handler(request: FastifyRequest, reply: FastifyReply) {
      match ??= prefixMatcher(request.routeOptions.url ?? `${config.prefix}*`);
      const target = routeTarget(request.raw.url ?? '/', match);
      if (target.kind === 'not-found') return void reply.callNotFound();
      if (target.kind === 'forbidden') return void reply.send(forbiddenError());
      files.send(request, reply, target.pathname, config.roots);
    },
  });
  if (config.redirect && config.prefix !== config.mount) {
    fastify.get(config.mount, base, (request, reply) => reply.redirect(slashRedirect(request.raw.url ?? '/'), 301));
  }
}

/** `wildcard: false`: a route for every file found now, and for every directory with an index. */
async function fileRoutes(fastify: FastifyInstance, files: StaticFiles, config: StaticConfig, base: RouteBase, index: readonly string[]): Promise<void> {
  const routes = new Set<string>();
  const indexDirs = new Map<string, string>();
  const serve = (url: string, file: string, root: string): void => {
    fastify.route({ ...base, method: ['HEAD', 'GET'], url, handler: (request, reply) => files.send(request, reply, file, [root]) });
  };
  for (const root of config.roots ?? []) {
    for (const file of await filesBelow(root, { dot: config.serveDotFiles, ignore: config.globIgnore })) {
      const url = config.prefix + file;
      if (routes.has(url)) continue;
      routes.add(url);
      serve(url, `/${file}`, root);
      const dir = path.posix.dirname(url);
      if (index.includes(path.posix.basename(url)) && !indexDirs.has(dir)) indexDirs.set(dir, root);
    }
  }
  for (const [dir, root] of indexDirs) {
    const url = dir.endsWith('/') ? dir : `${dir}/`;
    serve(url, `/${url.replace(config.prefix, '')}`, root);
    const slashless = url.slice(0, -1);
    if (config.redirect && slashless !== '' && !routes.has(slashless)) {
      fastify.get(slashless, base, (request, reply) => reply.redirect(slashRedirect(request.raw.url ?? '/'), 301));
    }
  }
}

/** The plugin: register it as @fastify/static (`fastify.register(sluice, { root })`). */
async function sluiceStatic(fastify: FastifyInstance, opts: SluicePluginOptions): Promise<void> {
  const config = staticConfig(fastify, opts);
  const files = new StaticFiles(config);
  if (config.decorateReply) decorate(fastify, files, config);
  if (!config.serve) return;
  const base = routeBase(fastify, config);
  if (config.wildcard) return wildcardRoutes(fastify, files, config, base);
  const index = opts.index === undefined ? ['index.html'] : ([] as string[]).concat(opts.index || []);
  await fileRoutes(fastify, files, config, base, index);
}

// As fastify-plugin marks a plugin: not encapsulated (the decorators are
// the parent's), and named for Fastify's logs and dependency checks.
Object.assign(sluiceStatic, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sluice',
  [Symbol.for('plugin-meta')]: { fastify: '5.x', name: 'sluice' },
});

// The types of that shape: the plugin's own call signature, and what hangs off it.
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace sluiceStatic {
  export type SluicePluginOptions = Options.SluicePluginOptions;
  /** @fastify/static's name for the options. */
  export type FastifyStaticOptions = Options.SluicePluginOptions;
  export type SendOptions = Options.SendOptions;
  export type ListOptions = Options.ListOptions;
  export type ListRender = Options.ListRender;
  export type ListDir = Options.ListDir;
  export type ListFile = Options.ListFile;
  export type ExtendedInformation = Options.ExtendedInformation;
  export type Root = Options.Root;
  /** The plugin, typed for `fastify.register(sluice, { root })`. */
  export const sluice: FastifyPluginAsync<SluicePluginOptions>;
  /** @fastify/static's name for it. */
  export const fastifyStatic: FastifyPluginAsync<SluicePluginOptions>;
  export const errors: typeof Errors.errors;
  export { sluice as default };
}

// CommonJS as @fastify/static: `require('sluice/fastify')` (and an ES
// module's default import) is the plugin itself, with `.default`,
// `.fastifyStatic`, `.sluice` and `.errors` on it, assigned one by one
// where Node's CommonJS lexer finds them as an ES module's named imports.
module.exports = sluiceStatic;
module.exports.default = sluiceStatic;
module.exports.sluice = sluiceStatic;
module.exports.fastifyStatic = sluiceStatic;
module.exports.errors = errors;
export = sluiceStatic;
