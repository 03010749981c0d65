// Compressed variants made once and kept on disk: a compressible file with
// no precompressed sibling is answered as it is, compressed in the
// background, and from then on its variant is served like any sibling
// (zero-copy, its own ETag, ranges, 304s).
//
// - Never stale: an entry's name is a hash of the source's identity (device,
//   inode, size, mtime) with the coding and level, so a changed file has
//   another name; a source that changes while it is compressed is discarded.
// - Never in the way: one compression at a time, on a worker thread at the
//   lowest CPU priority (zlib's async calls would queue in libuv's thread
//   pool ahead of file opens), a bounded queue (a storm of distinct files
//   drops the excess to identity), nothing on the request's path but a Map
//   lookup.
// - Safe on disk: a 0700 directory outside every served root, entries
//   written to a temporary name (created exclusively, which also makes one
//   process of several compress a file while the others serve identity) and
//   renamed into place, served without following symbolic links, bounded by
//   size with the least recently used evicted, rebuilt from the directory
//   at start-up.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import compressible from 'compressible';
import { compressCounts } from './counters';
import { compressCacheInRootError } from './errors';
import type { CompressOutcome, CompressRequest } from './compress-worker';
import type { FileVersion } from './file-table';
import { negotiateEncoding, type ContentCoding, type Encoding } from './negotiate';
import { SUFFIX } from './precompressed';

/**
 * Smallest file worth compressing. Below 1 KiB a response's head and whole
 * body fit in one TCP segment either way; at 1 KiB brotli already saves
 * 51–64% of real CSS and JavaScript (bootstrap, lodash, react-dom).
 */
export const MIN_COMPRESS_BYTES = 1024;
/** Largest source compressed: past this the one-time cost outweighs a cache meant for assets. */
export const MAX_SOURCE_BYTES = 64 * 1024 * 1024;
/** Compressions waiting at most; more are dropped (their files go out as identity). */
const QUEUE_MAX = 64;
/** A temporary entry older than this was left by a process that died. */
const STALE_TMP_MS = 10 * 60 * 1000;
const ENTRY_NAME = /^[0-9a-f]{32}\.(?:br|gz|zst)$/;
const TMP = '.tmp';
/** Distinct Accept-Encoding values remembered. */
const MAX_MEMO = 256;

/** Whether this Node's zlib can write zstd (22.15 and later). */
export const HAS_ZSTD = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';

/** A coding the cache writes. */
export type CacheCoding = Extract<ContentCoding, 'br' | 'zstd' | 'gzip'>;

/** Codings the cache writes, in preference order on ties. */
export const CACHE_CODINGS: readonly CacheCoding[] = HAS_ZSTD ? ['br', 'zstd', 'gzip'] : ['br', 'gzip'];

/** Levels, part of every entry's name: a new level is a new entry. */
const LEVEL: Readonly<Record<CacheCoding, number>> = { br: 11, zstd: 19, gzip: 9 };

export interface CompressCacheOptions {
  /** The cache directory (created 0700). */
  dir: string;
  /** Bound on the bytes the directory holds. */
  maxBytes: number;
  /**
   * `dir` is the default, not one the user named: where it cannot be made
   * or written (a server run as nobody with HOME=/root), or lies inside
   * the root, a private directory under the temporary one is used instead.
   */
  fallback?: boolean;
}

/** What the cache has done (for tests and logs). */
export interface CompressStats {
  compressed: number;
  adopted: number;
  dropped: number;
  discarded: number;
  evicted: number;
  failed: number;
}

/** A compressing stream for `coding`, tuned for a source of `size` bytes. */
export function compressor(coding: CacheCoding, size: number): zlib.BrotliCompress | zlib.Gzip {
  if (coding === 'br') {
    const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT } = zlib.constants;
    return zlib.createBrotliCompress({ params: { [BROTLI_PARAM_QUALITY]: LEVEL.br, [BROTLI_PARAM_SIZE_HINT]: size } });
  }
  if (coding === 'zstd') {
    const z = zlib as unknown as { createZstdCompress(o: object): zlib.Gzip; constants: Record<string, number> };
    return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel]: LEVEL.zstd } });
  }
  return zlib.createGzip({ level: LEVEL.gzip });
}

/** Whether a Content-Type is worth compressing (mime-db's judgement, via `compressible`). */
const compressibleTypes = new Map<string, boolean>();
export function isCompressibleType(type: string): boolean {
  let yes = compressibleTypes.get(type);
  if (yes === undefined) {
    yes = compressible(type) === true;
    if (compressibleTypes.size < 1024) compressibleTypes.set(type, yes);
  }
  return yes;
}

interface Job {
  name: string;
  source: string;
  stat: fs.Stats;
  coding: CacheCoding;
  /** A warm-up's job: told the variant's size when made, else null. */
  done?: (made: number | null) => void;
}

/**
 * The thread that makes variants (compress-worker.ts), started on first use
 * and never keeping the process alive; one that dies is started again.
 */
class CompressWorker {
  private thread: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, (outcome: CompressOutcome) => void>();

  run(req: Omit<CompressRequest, 'id'>): Promise<CompressOutcome> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      const thread = this.start();
      thread.ref();
      thread.postMessage({ ...req, id });
    });
  }

  private start(): Worker {
    if (this.thread !== null) return this.thread;
    const thread = new Worker(path.join(__dirname, 'compress-worker.js'));
    thread.on('message', (outcome: CompressOutcome) => {
      const resolve = this.waiting.get(outcome.id);
      this.waiting.delete(outcome.id);
      if (this.waiting.size === 0) thread.unref();
      resolve?.(outcome);
    });
    const fail = (message: string): void => {
      this.thread = null;
      for (const [id, resolve] of this.waiting) resolve({ id, kind: 'failed', message });
      this.waiting.clear();
    };
    thread.on('error', (err) => fail(err.message));
    thread.on('exit', (code) => fail(`compress worker exited with ${code}`));
    this.thread = thread;
    return thread;
  }
}

/** An entry's name: a hash of the source's identity with the coding and level. */
function entryName(stat: Pick<fs.Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>, coding: CacheCoding): string {
  const { dev, ino, size, mtimeMs } = stat;
  return createHash('sha256').update(`${dev}:${ino}:${size}:${mtimeMs}:${coding}:${LEVEL[coding]}`).digest('hex').slice(0, 32) + SUFFIX[coding];
}

/** One cache directory; shared by every handler of the process that names it. */
export class CompressCache {
  readonly stats: CompressStats = { compressed: 0, adopted: 0, dropped: 0, discarded: 0, evicted: 0, failed: 0 };
  /** Entries on disk, least recently used first: name → size. */
  private readonly entries = new Map<string, number>();
  private total = 0;
  /** Names being made, or found not worth making (no smaller than the source). */
  private readonly busy = new Set<string>();
  private readonly queue: Job[] = [];
  /** Warm-up jobs: run only while no request's job waits. */
  private readonly background: Job[] = [];
  private running = 0;
  private readonly names = new WeakMap<FileVersion, Partial<Record<CacheCoding, string>>>();
  private readonly choices = new Map<string, CacheCoding | null>();
  private readonly candidates: Encoding[] = [...CACHE_CODINGS, 'identity'];
  private readonly worker = new CompressWorker();

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
  ) {
    this.rebuild();
  }

  /** Bytes of the entries this process knows of. */
  get bytes(): number {
    return this.total;
  }

  /** Whether `version`, of type `type`, is one the cache would compress. */
  accepts(version: FileVersion, type: string): boolean {
    return version.size >= MIN_COMPRESS_BYTES && version.size <= MAX_SOURCE_BYTES && isCompressibleType(type);
  }

  /** The coding to serve for an Accept-Encoding value, or null for identity. */
  choose(acceptEncoding: string | undefined): CacheCoding | null {
    if (acceptEncoding === undefined) return null;
    let choice = this.choices.get(acceptEncoding);
    if (choice === undefined) {
      const best = negotiateEncoding(acceptEncoding, this.candidates);
      choice = best === null || best === 'identity' ? null : (best as CacheCoding);
      if (this.choices.size >= MAX_MEMO) this.choices.clear();
      this.choices.set(acceptEncoding, choice);
    }
    return choice;
  }

  /**
   * The path of `version`'s variant in `coding` when it is ready; else null,
   * and the variant is made in the background (if there is room to).
   */
  lookup(version: FileVersion, coding: CacheCoding): string | null {
    const name = this.nameOf(version, coding);
    const size = this.entries.get(name);
    if (size !== undefined) {
      // Most recently used goes to the end.
      this.entries.delete(name);
      this.entries.set(name, size);
      compressCounts.hits++;
      return path.join(this.dir, name);
    }
    compressCounts.misses++;
    this.schedule({ name, source: version.path, stat: version.stat, coding });
    return null;
  }

  /** An entry failed to open (another process evicted it): forget it. */
  forget(entryPath: string): void {
    const name = path.basename(entryPath);
    const size = this.entries.get(name);
    if (size === undefined) return;
    this.entries.delete(name);
    this.total -= size;
  }

  /** Resolves once nothing is queued or running (for tests and `sluice compress`). */
  async idle(): Promise<void> {
    while (this.running > 0 || this.queue.length > 0 || this.background.length > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Makes the variant of `source` (as `stat` describes it) in `coding` unless
   * it is cached or being made, behind every job a request queued, on the
   * same idle-priority thread. Resolves with the variant's size when this
   * made it, else null.
   */
  warm(source: string, stat: fs.Stats, coding: CacheCoding): Promise<number | null> {
    const name = entryName(stat, coding);
    if (this.entries.has(name) || this.busy.has(name)) return Promise.resolve(null);
    return new Promise((done) => {
      this.busy.add(name);
      this.background.push({ name, source, stat, coding, done });
      this.pump();
    });
  }

  private nameOf(version: FileVersion, coding: CacheCoding): string {
    let names = this.names.get(version);
    if (names === undefined) {
      names = {};
      this.names.set(version, names);
    }
    return (names[coding] ??= entryName(version.stat, coding));
  }

  private schedule(job: Job): void {
    if (this.busy.has(job.name)) return;
    // Names found not worth compressing pile up only as fast as versions do: bound them.
    if (this.busy.size >= 10_000 && this.queue.length === 0 && this.running === 0) this.busy.clear();
    if (this.queue.length >= QUEUE_MAX) {
      this.stats.dropped++;
      compressCounts.dropped++;
      return;
    }
    this.busy.add(job.name);
    this.queue.push(job);
    compressCounts.queued++;
    this.pump();
  }

  private pump(): void {
    while (this.running < 1 && (this.queue.length > 0 || this.background.length > 0)) {
      const job = (this.queue.shift() ?? this.background.shift()) as Job;
      this.running++;
      compressCounts.queued--;
      compressCounts.running++;
      this.make(job)
        .then((made) => job.done?.(made))
        .catch(() => {
          this.stats.failed++;
          compressCounts.failed++;
          this.busy.delete(job.name);
          job.done?.(null);
        })
        .finally(() => {
          this.running--;
          compressCounts.running--;
          this.pump();
        });
    }
  }

  /** Adopts the entry another process made, or has the worker make it; the name stays busy if it is not worth it. */
  private async make(job: Job): Promise<number | null> {
    const entry = path.join(this.dir, job.name);
    const existing = await fs.promises.lstat(entry).catch(() => null);
    if (existing?.isFile()) {
      this.stats.adopted++;
      compressCounts.adopted++;
      this.busy.delete(job.name);
      this.add(job.name, existing.size);
      return null;
    }
    const { dev, ino, size, mtimeMs } = job.stat;
    const outcome = await this.worker.run({ source: job.source, identity: { dev, ino, size, mtimeMs }, entry, coding: job.coding, level: LEVEL[job.coding] });
    if (outcome.kind === 'made') {
      this.stats.compressed++;
      compressCounts.made++;
      this.add(job.name, outcome.size);
    } else if (outcome.kind === 'discarded') this.stats.discarded++;
    else if (outcome.kind === 'failed') {
      this.stats.failed++;
      compressCounts.failed++;
    }
    // A version that changed is gone for good, and one that does not shrink
    // never will: those names stay busy. Others may be tried again.
    if (outcome.kind !== 'discarded' && outcome.kind !== 'not-smaller') this.busy.delete(job.name);
    return outcome.kind === 'made' ? outcome.size : null;
  }

  private add(name: string, size: number): void {
    if (this.entries.has(name)) return;
    this.entries.set(name, size);
    this.total += size;
    this.evict();
  }

  /** Unlinks the least recently used entries until the directory fits (open fds keep their bytes). */
  private evict(): void {
    for (const [name, size] of this.entries) {
      if (this.total <= this.maxBytes) return;
      this.entries.delete(name);
      this.total -= size;
      this.stats.evicted++;
      compressCounts.evicted++;
      // At once, so the directory never holds more than the bound (one unlink, after a compression).
      fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  /** The index from the directory: entries in order of last modification, stale temporaries removed. */
  private rebuild(): void {
    const found: { name: string; size: number; mtimeMs: number }[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const stat = lstatOrNull(path.join(this.dir, name));
      if (stat === null || !stat.isFile()) continue;
      if (ENTRY_NAME.test(name)) found.push({ name, size: stat.size, mtimeMs: stat.mtimeMs });
      else if (name.endsWith(TMP) && Date.now() - stat.mtimeMs > STALE_TMP_MS) fs.rmSync(path.join(this.dir, name), { force: true });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const e of found) this.add(e.name, e.size);
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** One cache per directory per process. */
const caches = new Map<string, CompressCache>();

/** Whether `dir` is `root` or lies below it (both real paths). */
export function isWithin(dir: string, root: string): boolean {
  return dir === root || dir.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/**
 * The cache for `opts.dir`, created 0700 if missing. A directory inside the
 * served root is refused (it would serve its own entries); one that cannot
 * be made or written is a one-line warning and no cache.
 */
export function openCompressCache(opts: CompressCacheOptions, root: string): CompressCache | null {
  const dir = path.resolve(opts.dir);
  if (isInRoot(dir, root)) {
    if (opts.fallback) return openPrivateCache(opts, root, null);
    throw compressCacheInRootError(dir, root);
  }
  const known = caches.get(dir);
  if (known !== undefined) return known;
  try {
    prepareDir(dir);
  } catch (err) {
    const why = `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    if (opts.fallback) return openPrivateCache(opts, root, why);
    warnNoCache(why);
    return null;
  }
  return cacheIn(dir, opts.maxBytes);
}

function isInRoot(dir: string, root: string): boolean {
  return isWithin(realOrSelf(dir), realOrSelf(root)) || isWithin(dir, path.resolve(root));
}

function cacheIn(dir: string, maxBytes: number): CompressCache {
  const known = caches.get(dir);
  if (known !== undefined) return known;
  const cache = new CompressCache(dir, maxBytes);
  caches.set(dir, cache);
  return cache;
}

/** Reasons already warned about: a second handler for the same directory says nothing. */
const warned = new Set<string>();

function warnNoCache(why: string): void {
  if (warned.has(why)) return;
  warned.add(why);
  process.emitWarning(`sluice: no compress cache (${why}); compressible files go out as they are`, { code: 'SLUICE_COMPRESS_CACHE_UNAVAILABLE' });
}

/** This user's private directory under the temporary one: `$TMPDIR/sluice-UID`. */
export function privateTmpDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(os.tmpdir(), `sluice-${uid}`);
}

/**
 * The cache in privateTmpDir()/compressed, when the default directory
 * failed (`why`; null: it lies inside the root). The temporary directory is
 * shared with every user, so the private one must be a real directory
 * (not a link) that this user owns: one someone else made first is
 * refused, not used, and its mode is made 0700.
 */
function openPrivateCache(opts: CompressCacheOptions, root: string, why: string | null): CompressCache | null {
  const parent = privateTmpDir();
  const dir = path.join(parent, 'compressed');
  if (isInRoot(dir, root)) {
    if (why !== null) warnNoCache(why);
    return null;
  }
  try {
    preparePrivateParent(parent);
    prepareDir(dir);
  } catch (err) {
    warnNoCache(`${why ?? `the default directory is inside ${root}`}; ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return null;
  }
  if (why !== null && !caches.has(dir)) {
    process.emitWarning(`sluice: compress cache in ${dir} (${why})`, { code: 'SLUICE_COMPRESS_CACHE_FALLBACK' });
  }
  return cacheIn(dir, opts.maxBytes);
}

function preparePrivateParent(parent: string): void {
  try {
    fs.mkdirSync(parent, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const stat = fs.lstatSync(parent);
  if (!stat.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
    throw Object.assign(new Error(`owned by uid ${stat.uid}, not this user: refused`), { code: 'EPERM' });
  }
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(parent, 0o700);
}

/** Creates `dir` 0700 and checks it is a directory of ours that we can write. */
function prepareDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) throw Object.assign(new Error('owned by another user'), { code: 'EPERM' });
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  // Root passes every permission check: only a write shows whether it works (a read-only mount, say).
  const probe = path.join(dir, `.probe-${process.pid}`);
  fs.writeFileSync(probe, '', { mode: 0o600 });
  fs.rmSync(probe);
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}
