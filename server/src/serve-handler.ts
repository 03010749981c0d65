// `sluice/serve-handler`: serve-handler's function, `handler(request,
// response, config?, handlers?)` returning a promise, answered by sluice's
// responder (bodies zero-copy). `config` is serve.json's object, with
// serve-handler's defaults: listings and clean URLs on, dotfiles served,
// symlinks refused unless `symlinks: true`, `404.html` for misses, errors
// as serve-handler's (a page, or JSON when the client accepts it).
//
// Its rules are compiled the first time a config object is seen and kept
// with it, so a config must not be changed after its first request.
// `handlers` (serve-handler's fs overrides: lstat, realpath,
// createReadStream, readdir, sendError) cannot be honoured: sluice opens
// files itself and hands their fds to the kernel. They are ignored.
//
//   const handler = require('sluice/serve-handler');
//   http.createServer((req, res) => handler(req, res, { public: 'dist' }));
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { SERVE_DIALECT, type SluiceOptions } from './options';
import type { Responder } from './responder';
import { errorPage } from './responses';
import { serveRuleOptions, type ServeConfig } from './serve-config';
import { build } from './setup';

/** serve-handler's config: serve.json's keys, the same type the CLI reads. */
export type ServeHandlerConfig = ServeConfig;

/** serve-handler's fs overrides; accepted for the signature, not used. */
export type ServeHandlerMethods = Record<string, unknown>;

interface Compiled {
  root: string;
  responder: Responder;
}

const compiled = new WeakMap<object, Compiled>();
const DEFAULT_CONFIG: ServeHandlerConfig = Object.freeze({});

/** serve.json's keys (one mapping, serve-config's) with serve-handler's defaults for the rest. */
function optionsOf(config: ServeHandlerConfig): SluiceOptions {
  return {
    ...serveRuleOptions(config),
    dotfiles: 'allow',
    index: false,
    redirect: false,
    cacheControl: false,
    precompressed: false,
    lastModified: !config.etag,
    etag: config.etag ? 'strong' : true,
    listing: config.directoryListing ?? true,
    symlinks: config.symlinks ? 'follow' : 'deny',
  };
}

/** The responder for `config`, served from `root` (made once per config object and root). */
function responderFor(config: ServeHandlerConfig, root: string): Responder {
  const known = compiled.get(config);
  if (known !== undefined && known.root === root) return known.responder;
  const { responder } = build(root, optionsOf(config), { dialect: SERVE_DIALECT });
  compiled.set(config, { root, responder });
  return responder;
}

/** serve-handler's signature: resolves once the response is finished (or its connection gone). */
export function serveHandler(
  request: IncomingMessage,
  response: ServerResponse,
  config?: ServeHandlerConfig | null,
  _handlers?: ServeHandlerMethods,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    try {
      const cfg = config ?? DEFAULT_CONFIG;
      const cwd = process.cwd();
      const root = cfg.public ? path.resolve(cwd, cfg.public) : cwd;
      const responder = responderFor(cfg, root);
      if (response.writableFinished || response.destroyed) return resolve();
      response.once('close', () => resolve());
      responder.respond(request, response);
    } catch (err) {
      reject(err as Error);
    }
  });
}

export { errorPage };
export default serveHandler;

// CommonJS: `require('sluice/serve-handler')` is the function itself, as
// with serve-handler, with `.default` for ESM and `.errorPage` (the page
// an error is rendered as).
module.exports = Object.assign(serveHandler, { default: serveHandler, serveHandler, errorPage, __esModule: true });
