// One request, start to finish: the entry points adapters call. What file
// answers (resolve → open → symlink policy → variant) is finder.ts's; what
// the answer is (plan → deliver, and every refusal as the adapter wants
// it: a fall-through, next(err), or an error page) is answers.ts's. This
// module only takes the request in and hands it to them.
//
// Hot path: everything that depends only on the options is computed at
// construction; per-version values (validators, type, head lists) are
// computed once per file version and kept with it; a request for a cached
// file runs synchronously from the request event to the engine.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Answers } from './answers';
import { isQueued, whenTurn, type Transports } from './engines';
import { Exchange, type Claimant, type Next } from './exchange';
import { Finder } from './finder';
import type { ResolvedOptions } from './options';
import { PathResolver, urlPathname, type Resolution } from './resolve';

export type { Claimant, Next } from './exchange';

export class Responder {
  private readonly resolver: PathResolver;
  private readonly answers: Answers;
  private readonly finder: Finder;
  // serve-static mounted at /static and asked for /static: send resolves ''
  // to root itself, which is a directory (a redirect) or a file (served).
  private readonly mountRoot: Resolution & { kind: 'path' };
  /** Whether the server is closing: the health path then answers 503 (createServer sets this). */
  draining: () => boolean = () => false;

  /** The fallback proxy a miss goes to (answers.ts), or null: set by createServer for --proxy. */
  get passMiss(): ((req: IncomingMessage, res: ServerResponse) => void) | null {
    return this.answers.passMiss;
  }

  set passMiss(to: ((req: IncomingMessage, res: ServerResponse) => void) | null) {
    this.answers.passMiss = to;
  }

  constructor(
    root: string,
    private readonly opts: ResolvedOptions,
    transports: Transports,
  ) {
    this.resolver = new PathResolver(root, { dotfiles: opts.dotfiles });
    // The 404 fallbacks open files: a refusal hands back to the finder.
    this.answers = new Answers(root, opts, transports, (x) => this.finder.fallBack(x));
    this.finder = new Finder(root, opts, this.answers);
    this.mountRoot = { kind: 'path', path: root, trailingSlash: false, decoded: '/' };
  }

  /** serve-static's and createHandler's entry: the target is `req.url`. */
  readonly respond = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    const url = req.url ?? '/';
    // Express and Connect keep the URL before mounting in originalUrl.
    const originalUrl = next !== undefined ? ((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? url) : url;
    this.serve(req, res, next, url, originalUrl, null);
  };

  /**
   * The general entry: `url` is the target below the mount point (what
   * resolves against root), `originalUrl` the request's own (what redirects
   * point at), `claimant` is told before the first write.
   */
  readonly serve = (req: IncomingMessage, res: ServerResponse, next: Next | undefined, url: string, originalUrl: string, claimant: Claimant | null): void => {
    // A pipelined request waits for its turn before it opens anything, so
    // queued requests hold no descriptor, and head and body come from the
    // version current when they go out.
    if (isQueued(res)) return whenTurn(req, res, () => this.serve(req, res, next, url, originalUrl, claimant));
    const x = new Exchange(req, res, next, originalUrl, claimant);
    if (this.opts.health !== null && this.isHealthCheck(req, url)) return this.answers.health(x, this.draining());
    // A CORS preflight never carries credentials (Fetch leaves them out): it is answered without.
    const auth = this.opts.cors && req.method === 'OPTIONS' ? null : this.opts.auth;
    if (auth !== null)
      return auth.check(
        req,
        res,
        this.answers.extra,
        () => this.authorized(x, url, originalUrl),
        () => claimant?.hijack(),
      );
    this.authorized(x, url, originalUrl);
  };

  /** serve() past the health path and authentication. */
  private authorized(x: Exchange, url: string, originalUrl: string): void {
    const { req } = x;
    if (req.method !== 'GET' && req.method !== 'HEAD' && !this.opts.anyMethod) return this.answers.otherMethod(x);
    const resolution = originalUrl !== url && isMountRoot(url, originalUrl) ? this.mountRoot : this.resolver.resolve(url);
    if (resolution.kind === 'error') return this.answers.refuse(x, resolution.status);
    this.finder.find(x, resolution);
  }

  /** A GET or HEAD of the health path (its query string aside). */
  private isHealthCheck(req: IncomingMessage, url: string): boolean {
    const health = this.opts.health as string;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    return url === health || (url.startsWith(health) && url[health.length] === '?');
  }
}

/**
 * serve-static "makes sure redirect occurs at mount": mounted at /static, a
 * request for /static arrives as `/` and must redirect to /static/.
 */
function isMountRoot(url: string, originalUrl: string): boolean {
  return urlPathname(url) === '/' && !urlPathname(originalUrl).endsWith('/');
}
