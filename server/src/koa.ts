// `sluice/koa`: koa-static's serve(root, opts) and koa-send's
// send(ctx, path, opts), answered by sluice's responder on ctx.req and
// ctx.res: bodies zero-copy, with what koa-send leaves out (ETag and 304,
// 412, single and multipart ranges, Vary on precompressed files, the
// compress cache, a symlink policy). Headers set before (ctx.set(),
// ctx.type, setHeaders) are sent; the status the file goes with is on
// ctx.status for loggers; other methods and misses fall through to next()
// (serve) or reject with a 404 (send). Koa writes nothing for a file sluice
// answered (ctx.respond = false), so what middleware sets after
// `await next()` cannot reach that response (README, Koa).
//
//   const serve = require('sluice/koa');
//   app.use(serve(path.join(__dirname, 'public'), { maxage: 3600_000 }));
import * as assert from 'node:assert';
import * as path from 'node:path';
import type * as KoaOptions from './koa/options';
import { send, sendPrepared, preparedOf, responderFor, type KoaContext } from './koa/send';
import type { SendOptions, StaticOptions } from './koa/options';

type KoaNext = () => Promise<unknown>;
type KoaMiddleware = (ctx: KoaContext, next: KoaNext) => Promise<void>;

function isGetOrHead(ctx: KoaContext): boolean {
  return ctx.method === 'GET' || ctx.method === 'HEAD';
}

/** send(), with koa-static's reading of its errors: a 404 is a miss (false), anything else is thrown. */
async function tryServe(ctx: KoaContext, opts: ReturnType<typeof preparedOf>): Promise<boolean> {
  try {
    return (await sendPrepared(ctx, ctx.path, opts)) !== undefined;
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
    return false;
  }
}

/**
 * koa-static: serves the files below `root` for GET and HEAD, zero-copy.
 * Without `defer`, a miss goes on to next(); with it, next() runs first and
 * the file is served only if nothing downstream answered (no body, status 404).
 */
function serve(root: string, opts: StaticOptions = {}): KoaMiddleware {
  assert.ok(root, 'root directory is required to serve files');
  const sendOptions: SendOptions = { ...opts, root: path.resolve(root), index: opts.index ?? 'index.html' };
  const prepared = preparedOf(sendOptions);
  responderFor(prepared);
  if (!opts.defer) {
    return async function serve(ctx: KoaContext, next: KoaNext): Promise<void> {
      const done = isGetOrHead(ctx) && (await tryServe(ctx, prepared));
      if (!done) await next();
    };
  }
  return async function serve(ctx: KoaContext, next: KoaNext): Promise<void> {
    await next();
    if (!isGetOrHead(ctx)) return;
    // Answered downstream.
    if (ctx.body != null || ctx.status !== 404) return;
    await tryServe(ctx, prepared);
  };
}

// The types of that shape: koa-static's function, with send hanging off it.
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace serve {
  export type SendOptions = KoaOptions.SendOptions;
  export type StaticOptions = KoaOptions.StaticOptions;
  /** koa-static's name for its options. */
  export type Options = KoaOptions.StaticOptions;
  export type SetHeaders = KoaOptions.SetHeaders;
  export type Context = KoaContext;
  export type Middleware = KoaMiddleware;
  export type Next = KoaNext;
  export const serve: (root: string, opts?: StaticOptions) => KoaMiddleware;
  export const send: (ctx: KoaContext, filePath: string, opts?: SendOptions) => Promise<string | undefined>;
  export { serve as default };
}

// CommonJS as koa-static: `require('sluice/koa')` (and an ES module's
// default import) is serve itself, with `.serve`, `.send` and `.default`.
module.exports = serve;
module.exports.default = serve;
module.exports.serve = serve;
module.exports.send = send;
export = serve;
