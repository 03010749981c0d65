// "Which file": from a request's resolved path to the file (and the bytes
// for it) that answers it, or the reason none does. Resolve → route or index
// → open → symlink policy → variant (a precompressed sibling, or the
// compress cache's entry), and the 404 fallbacks (the SPA shell, the 404
// page). What it finds, and every early end, goes to answers.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Answers } from './answers';
import { openCompressCache, type CompressCache } from './compress-cache';
import { countPrecompressedHit } from './counters';
import { enoent } from './errors';
import { acceptsJson, asItIs, type Exchange, type Found } from './exchange';
import { openFile, type FileVersion } from './file-table';
import { typeOf } from './head';
import { readListing, visibleEntries } from './listing';
import type { ResolvedOptions } from './options';
import { headerString } from './plan';
import { SUFFIX, VariantIndex, type Variants } from './precompressed';
import { absoluteUnderRoot, redirectLocation, relativeToRoot, type Resolution } from './resolve';
import { candidatePaths } from './rules';
import { SymlinkGuard } from './symlinks';

/** What a file has when precompressed siblings are not looked for. */
const NO_SIBLINGS: Variants = { codings: [], mask: 0, seenAt: 0 };

/** What trying candidate paths in order came to. */
type Tried = { kind: 'file'; file: FileVersion } | { kind: 'miss'; lastErr: NodeJS.ErrnoException | null } | { kind: 'error'; err: NodeJS.ErrnoException };

/**
 * Opens the first of `candidates` that exists. send's index files and
 * extensions (`directories` false) skip directories and take any error as
 * a miss; serve's routes (`directories` true) take a directory too, and
 * stop at an error other than ENOENT or ENOTDIR.
 */
function openFirstOf(
  candidates: readonly string[],
  directories: boolean,
  cb: (tried: Tried) => void,
  i = 0,
  lastErr: NodeJS.ErrnoException | null = null,
): void {
  if (i >= candidates.length) return cb({ kind: 'miss', lastErr });
  openFile(candidates[i], (err, file) => {
    if (err || file === undefined) {
      if (directories && err && err.code !== 'ENOENT' && err.code !== 'ENOTDIR') return cb({ kind: 'error', err });
      return openFirstOf(candidates, directories, cb, i + 1, err ?? enoent());
    }
    if (!directories && file.stat.isDirectory()) {
      file.release();
      return openFirstOf(candidates, directories, cb, i + 1, null);
    }
    cb({ kind: 'file', file });
  });
}

/** The error a lenient search ended on (a `directories: false` search never stops at one). */
function lastErrorOf(tried: Exclude<Tried, { kind: 'file' }>): NodeJS.ErrnoException | null {
  return tried.kind === 'miss' ? tried.lastErr : tried.err;
}

export class Finder {
  private readonly variants: VariantIndex;
  private readonly guard: SymlinkGuard;
  private readonly compress: CompressCache | null;
  /** Each route's candidate paths, made once (a route is remembered per path, and so is this). */
  private readonly candidates = new WeakMap<object, readonly string[]>();

  constructor(
    private readonly root: string,
    private readonly opts: ResolvedOptions,
    private readonly answers: Answers,
  ) {
    this.variants = new VariantIndex(opts.precompressed, opts.precompressedStar);
    this.guard = new SymlinkGuard(root, opts.symlinks);
    this.compress = opts.compress === null ? null : openCompressCache(opts.compress, root);
  }

  /** The file a resolved path names: by serve's routes, a directory's index, or the path itself. */
  find(x: Exchange, resolution: Resolution & { kind: 'path' }): void {
    x.decoded = resolution.decoded;
    if (this.opts.routed) return this.route(x, resolution.path, resolution.decoded);
    if (resolution.trailingSlash && this.opts.index.length > 0) {
      const dir = resolution.path;
      return this.openIndex(x, dir, (lastErr) => this.listOrRefuse(x, dir, lastErr));
    }
    this.openTarget(x, resolution.path, resolution.trailingSlash);
  }

  /** A miss with a fallback configured: the SPA shell for a path without an extension, else the 404 page. */
  fallBack(x: Exchange): boolean {
    if (x.fellBack) return false;
    const single = this.opts.single && path.extname(x.decoded) === '';
    // serve answers a client asking for JSON with a JSON error, never the page.
    const page = this.opts.notFound !== null && !(this.opts.dialect.serveErrors && acceptsJson(x.req));
    if (!single && !page) return false;
    x.fellBack = true;
    const notFound = (): void => {
      if (!page || this.opts.notFound === null) return this.answers.refuse(x, 404);
      x.role = 'not-found';
      this.openFallback(x, absoluteUnderRoot(this.root, `/${this.opts.notFound}`));
    };
    if (!single) {
      notFound();
      return true;
    }
    x.role = 'shell';
    this.openFallback(x, absoluteUnderRoot(this.root, `/${this.opts.index[0] ?? 'index.html'}`), notFound);
    return true;
  }

  /** serve's routing: a redirect, or the first of the paths the rules name that exists. */
  private route(x: Exchange, target: string, decoded: string): void {
    const rules = this.opts.rules;
    if (rules === null) return this.openTarget(x, target, false);
    const route = rules.route(decoded);
    if (route.redirect !== null) return this.answers.ruleRedirect(x, route.redirect.status, route.redirect.location);
    let candidates = this.candidates.get(route);
    if (candidates === undefined) {
      candidates = candidatePaths(relativeToRoot(this.root, target) || '/', decoded, route).map((p) => absoluteUnderRoot(this.root, p));
      this.candidates.set(route, candidates);
    }
    openFirstOf(candidates, true, (tried) => {
      if (tried.kind === 'error') return this.answers.refuseErrno(x, tried.err);
      if (tried.kind === 'miss') return this.answers.refuse(x, 404);
      if (tried.file.stat.isDirectory()) return this.onRoutedDirectory(x, tried.file);
      this.onFound(x, tried.file);
    });
  }

  /** A routed request that names a directory: its one file (renderSingle), its listing, or 404. */
  private onRoutedDirectory(x: Exchange, dir: FileVersion): void {
    if (!this.opts.renderSingle) return this.listDirectory(x, dir);
    readListing(dir.path, (err, entries) => {
      if (err || entries === undefined || entries.length !== 1 || entries[0].directory) return this.listDirectory(x, dir);
      dir.release();
      this.openTarget(x, path.join(dir.path, entries[0].name), false);
    });
  }

  /** The request's own path: a file, a directory (redirect or 404), or a miss that send's extensions may rescue. */
  private openTarget(x: Exchange, target: string, trailingSlash: boolean): void {
    openFile(target, (err, file) => {
      if (err || file === undefined) {
        const { extensions } = this.opts;
        if (err?.code === 'ENOENT' && extensions.length > 0 && !trailingSlash && path.extname(target) === '') {
          const candidates = extensions.map((ext) => `${target}.${ext}`);
          return openFirstOf(candidates, false, (tried) => {
            if (tried.kind === 'file') return this.onFound(x, tried.file);
            this.answers.refuseErrno(x, lastErrorOf(tried) ?? enoent());
          });
        }
        return this.answers.refuseErrno(x, err ?? enoent());
      }
      if (file.stat.isDirectory()) return this.onDirectory(x, file, trailingSlash);
      this.onFound(x, file);
    });
  }

  /** The first index file of `dir` that is a file; `miss` when none is. */
  private openIndex(x: Exchange, dir: string, miss: (lastErr: NodeJS.ErrnoException | null) => void): void {
    const candidates = this.opts.index.map((name) => path.join(dir, name));
    openFirstOf(candidates, false, (tried) => (tried.kind === 'file' ? this.onFound(x, tried.file) : miss(lastErrorOf(tried))));
  }

  /** A directory with none of its index files: its listing when allowed, else the index's miss. */
  private listOrRefuse(x: Exchange, dir: string, lastErr: NodeJS.ErrnoException | null): void {
    if (this.opts.listing === null) return lastErr ? this.answers.refuseErrno(x, lastErr) : this.answers.refuse(x, 404);
    openFile(dir, (err, file) => {
      if (err || file === undefined || !file.stat.isDirectory()) {
        file?.release();
        return this.answers.refuseErrno(x, err ?? lastErr ?? enoent());
      }
      this.listDirectory(x, file);
    });
  }

  /** The listing of `dir` (whose reference this releases), when listings are allowed for the request's path; else 404. */
  private listDirectory(x: Exchange, dir: FileVersion): void {
    const listing = this.opts.listing;
    if (listing === null || !listing.appliesTo(x.decoded)) {
      dir.release();
      return this.answers.refuse(x, 404);
    }
    this.checkLinks(dir, (ok) => {
      dir.release();
      if (!ok) return this.answers.refuse(x, 403);
      readListing(dir.path, (err, entries) => {
        if (err || entries === undefined) return this.answers.refuseErrno(x, err ?? enoent());
        const visible = visibleEntries(entries, { dotfiles: this.opts.dotfiles === 'allow', unlisted: this.opts.unlisted });
        this.answers.listing(x, relativeToRoot(this.root, dir.path) || '/', visible);
      });
    });
  }

  /**
   * A directory asked for (its index, if any, did not answer): the
   * framework's answer (Fastify's listing), the listing or a 404 with a
   * trailing slash or without redirects, its index as if slashed
   * (@fastify/static), or the redirect to its slash form.
   */
  private onDirectory(x: Exchange, dir: FileVersion, trailingSlash: boolean): void {
    if (x.claimant?.directory?.(dir.path, trailingSlash) === true) return dir.release();
    const slashless = this.opts.slashless;
    if (trailingSlash || slashless === 'not-found') return this.listDirectory(x, dir);
    dir.release();
    if (slashless === 'index') return this.openIndex(x, dir.path, (lastErr) => (lastErr ? this.answers.refuseErrno(x, lastErr) : this.answers.refuse(x, 404)));
    this.answers.slashRedirect(x, redirectLocation(x.originalUrl));
  }

  private onFound(x: Exchange, file: FileVersion): void {
    // FIFOs, sockets and devices are not files to serve.
    if (!file.stat.isFile()) {
      file.release();
      return this.answers.refuse(x, 404);
    }
    this.checkLinks(file, (ok) => {
      if (!ok) {
        file.release();
        return this.answers.refuse(x, this.opts.dialect.symlinkRefusal);
      }
      x.found = true;
      if (!this.variants.enabled) return this.chooseVariant(x, file, NO_SIBLINGS);
      const known = this.variants.lookup(file.path, Date.now());
      if (known !== undefined) return this.chooseVariant(x, file, known);
      this.variants.probe(file.path, (probed) => this.chooseVariant(x, file, probed));
    });
  }

  /** The symlink policy's verdict on `file`: at once when there is no policy to apply. */
  private checkLinks(file: FileVersion, cb: (ok: boolean) => void): void {
    if (!this.guard.active) return cb(true);
    this.guard.check(file, cb);
  }

  /** The precompressed sibling Accept-Encoding selects among those `known`; without one, the compress cache's. */
  private chooseVariant(x: Exchange, file: FileVersion, known: Variants): void {
    const coding = this.variants.choose(headerString(x.req.headers['accept-encoding']), known);
    const vary = known.mask !== 0;
    // Siblings on disk win over the compress cache.
    if (coding === null) return vary ? this.answers.file(x, asItIs(file, true)) : this.chooseCompressed(x, file);
    openFile(file.path + SUFFIX[coding], (err, variant) => {
      if (err || variant === undefined || !variant.stat.isFile()) {
        // Gone since we looked (or not a file): the original is always right.
        variant?.release();
        this.variants.forget(file.path);
        return this.answers.file(x, asItIs(file, vary));
      }
      this.checkLinks(variant, (ok) => {
        if (ok) {
          countPrecompressedHit(coding);
          return this.answers.file(x, { original: file, variant, coding, vary, validated: null });
        }
        variant.release();
        this.answers.file(x, asItIs(file, vary));
      });
    });
  }

  /**
   * A file with no sibling: its cached variant when ready (else identity now,
   * the variant made in the background), when compressing it is worth it.
   */
  private chooseCompressed(x: Exchange, file: FileVersion): void {
    const cache = this.compress;
    if (cache === null || !cache.accepts(file, typeOf(file, this.opts.types))) return this.answers.file(x, asItIs(file, false));
    // From here the answer depends on Accept-Encoding, identity included.
    const coding = cache.choose(headerString(x.req.headers['accept-encoding']));
    const entry = coding === null ? null : cache.lookup(file, coding);
    if (entry === null) return this.answers.file(x, asItIs(file, true));
    openFile(
      entry,
      (err, variant) => {
        if (err || variant === undefined || !variant.stat.isFile()) {
          // Evicted by another process since: identity is always right.
          variant?.release();
          cache.forget(entry);
          return this.answers.file(x, asItIs(file, true));
        }
        const found: Found = { original: file, variant, coding, vary: true, validated: file };
        this.answers.file(x, found);
      },
      fs.constants.O_NOFOLLOW,
    );
  }

  private openFallback(x: Exchange, target: string, otherwise: () => void = () => this.answers.refuse(x, 404)): void {
    openFile(target, (err, file) => {
      if (err || file === undefined || !file.stat.isFile()) {
        file?.release();
        return otherwise();
      }
      this.onFound(x, file);
    });
  }
}
