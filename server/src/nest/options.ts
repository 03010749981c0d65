// @nestjs/serve-static's options, unchanged (plus sluice's engine choices
// under serveStaticOptions), its constants, and the path helpers its
// loaders share: which requests are excluded, where the SPA fallback is
// mounted, what a global prefix adds.
import { createRequire } from 'node:module';
import type { Stats } from 'node:fs';
import type { ModuleMetadata, Provider, Type } from '@nestjs/common';
import type { EngineName } from '../engines';
import type { ContentCoding } from '../negotiate';
import type { CompressOption, SymlinkPolicy } from '../options';

/** The token the options are provided under (@nestjs/serve-static's). */
export const SERVE_STATIC_MODULE_OPTIONS = 'SERVE_STATIC_MODULE_OPTIONS';
export const DEFAULT_ROOT_PATH = 'client';
export const DEFAULT_EXPRESS_RENDER_PATH = '{*any}';
export const DEFAULT_FASTIFY_RENDER_PATH = '*';

/** `serveStaticOptions`: express.static's options under Express, @fastify/static's under Fastify. */
export interface ServeStaticOptions {
  acceptRanges?: boolean;
  cacheControl?: boolean;
  /** 'allow', 'deny' (403) or 'ignore' (default: as if missing). */
  dotfiles?: string;
  etag?: boolean;
  /** Express: false hands a missing file to the error handler. Fastify: true sends index.html for unmatched paths. */
  fallthrough?: boolean;
  extensions?: string[];
  immutable?: boolean;
  index?: boolean | string | string[];
  lastModified?: boolean;
  /** Milliseconds, or a string such as '1d'. */
  maxAge?: number | string;
  redirect?: boolean;
  /** Called with the response (Express) or the reply (Fastify), the file's path and its stat. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  setHeaders?: (res: any, path: string, stat: any) => any;
  /** Fastify: serve `x.br` / `x.gz` siblings to clients that accept them. */
  preCompressed?: boolean;
  /** Fastify: false leaves `reply.sendFile` undecorated. */
  decorateReply?: boolean;
  /** sluice: 'auto' (default) or an engine by name. */
  engine?: EngineName | 'auto';
  /** sluice, Express: precompressed siblings (default true, as sluice's serveStatic; false turns them off). */
  precompressed?: boolean | ContentCoding[];
  /** sluice, Express: compress each compressible file once, in the background, and serve the cached variant (off by default). */
  compress?: boolean | CompressOption;
  /** sluice: 'follow' (default), 'within-root' or 'deny'. */
  symlinks?: SymlinkPolicy;
  /** sluice: ms a client may read nothing while a body is sent (0: never). */
  sendTimeout?: number;
}

export interface ServeStaticModuleOptions {
  /** Static files root directory. Default: "client". */
  rootPath?: string;
  /** Path of the SPA fallback (index.html), after `serveRoot`. Default: every path. */
  renderPath?: string | RegExp;
  /** Prefix the static app with the global prefix of `setGlobalPrefix()`. Default false. */
  useGlobalPrefix?: boolean;
  /** Path the static app is served under. Default: "". */
  serveRoot?: string;
  /** Paths (path-to-regexp patterns, or one RegExp) the SPA fallback leaves to the app. */
  exclude?: string[] | RegExp;
  serveStaticOptions?: ServeStaticOptions;
}

export interface ServeStaticModuleOptionsFactory {
  createLoggerOptions(): Promise<ServeStaticModuleOptions[]> | ServeStaticModuleOptions[];
}

export interface ServeStaticModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  isGlobal?: boolean;
  useExisting?: Type<ServeStaticModuleOptionsFactory>;
  useClass?: Type<ServeStaticModuleOptionsFactory>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  useFactory?: (...args: any[]) => Promise<ServeStaticModuleOptions[]> | ServeStaticModuleOptions[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inject?: any[];
  extraProviders?: Provider[];
}

/** The request fields the loaders read (Express's and Fastify's raw request both have them). */
export interface RoutedRequest {
  originalUrl?: string;
  url?: string;
}

export type SetHeaders = (res: unknown, path: string, stat: Stats) => unknown;

type PathToRegexp = (path: string) => { regexp: RegExp };
let compile: PathToRegexp | undefined;

/** path-to-regexp as Nest itself resolves it (8.x: the `{*any}` syntax of Nest's and Express 5's routes). */
function pathToRegexp(pattern: string): RegExp {
  if (compile === undefined) {
    const fromNest = createRequire(require.resolve('@nestjs/core'));
    compile = (fromNest('path-to-regexp') as { pathToRegexp: PathToRegexp }).pathToRegexp;
  }
  return compile(pattern).regexp;
}

const compiled = new Map<string, RegExp>();

/** Whether the SPA fallback leaves `req` to the app. A RegExp is matched with search(), so a /g pattern keeps no state. */
export function isRouteExcluded(req: RoutedRequest, paths: string[] | RegExp = []): boolean {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q >= 0 ? url.slice(0, q) : url;
  if (paths instanceof RegExp) return pathname.search(paths) !== -1;
  return paths.some((p) => {
    let re = compiled.get(p);
    if (re === undefined) {
      re = pathToRegexp(p);
      compiled.set(p, re);
    }
    return re.exec(`${pathname}/`) !== null;
  });
}

/** A global prefix other than '' or '/'. */
export function isValidGlobalPrefix(prefix: string): boolean {
  return !/^(\/?)$/.test(prefix);
}

/** `path` with a leading slash. */
export function withLeadingSlash(path: string): string {
  return path && path.charAt(0) !== '/' ? `/${path}` : path;
}

/** The path the static app is served under: `serveRoot`, behind the global prefix when asked. */
export function serveRootOf(options: ServeStaticModuleOptions, globalPrefix: string): string | undefined {
  if (globalPrefix && options.useGlobalPrefix && isValidGlobalPrefix(globalPrefix)) return `/${globalPrefix}${options.serveRoot || ''}`;
  return options.serveRoot;
}

/** The SPA fallback's route: the render path below the serve root. */
export function renderRouteOf(serveRoot: string | undefined, renderPath: string | RegExp): string | RegExp {
  if (!serveRoot) return renderPath;
  return typeof renderPath === 'string' ? serveRoot + withLeadingSlash(renderPath) : renderPath;
}
