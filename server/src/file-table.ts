// The open-file table (nginx's open_file_cache, sirv's startup scan made
// safe for files that change): hot files keep their fd and stat, so a
// request for a cached file costs no open, stat or close.
//
// Every fd is held by reference count: the table holds one reference while
// a file is cached, each response holds one until its transfer has called
// back. An fd is closed only when no reference is left, so its number can
// never be reused under a transfer.
//
// Freshness: an entry is trusted for `revalidateMs` after it was opened or
// last checked; after that the next request stats the path before using it.
// A changed file (another inode after an atomic rename, or a new size,
// mtime or ctime after an in-place write) is reopened. Headers and bytes
// come from the same fd and the same stat, so a response never pairs one
// version's headers with another version's bytes (a file rewritten in place
// while being sent can still shrink: engines close the connection then).
import * as fs from 'node:fs';
import { addHolder, isOutOfDescriptors, openFileLimit, relieveShortage, tableBudget } from './descriptors';

/**
 * The three head lists of one representation of one file version, built by
 * head.ts and kept here so they live exactly as long as the version.
 */
export interface HeadLists {
  /** A 200 for the whole file, Content-Length included. */
  readonly whole: readonly string[];
  /** Everything but Content-Length: a 206 adds Content-Range and its own length. */
  readonly partial: readonly string[];
  /** A 304: validators and caching fields, no content metadata (RFC 9110 §15.4.5). */
  readonly notModified: readonly string[];
}

/**
 * One version of one file: the fd and the stat it was opened with, and the
 * values later stages derive from exactly that stat, each computed once.
 * A changed file is a new version with every slot empty again, so nothing
 * derived can outlive the bytes it came from.
 */
export interface FileVersion {
  readonly path: string;
  readonly fd: number;
  readonly stat: fs.Stats;
  /** stat.size: what a body of the whole file promises. */
  readonly size: number;
  /** Content-Type of this path (head.ts). */
  type: string | null;
  /** Weak ETag of the identity bytes (head.ts). */
  etag: string | null;
  /** Strong ETag from a hash of the bytes, when a handler asks for one (digest.ts). */
  strongEtag: string | null;
  /** ETag when these bytes are served as a coded variant of another path (head.ts). */
  codedEtag: string | null;
  /** Last-Modified as an HTTP-date (head.ts). */
  lastModified: string | null;
  /** Where the fd really leads, for the symlink policy (symlinks.ts). */
  realPath: string | null;
  /** The whole file's bytes, once a small-file engine has read them (engines/small.ts). */
  bytes: Buffer | null;
  /** Head lists by head.ts's key (policy, coding, Vary). */
  readonly heads: Map<string, HeadLists>;
  /** Releases one reference; the fd is closed when none are left. */
  release(): void;
  /**
   * Takes this version out of the table (say, a send found it shorter than
   * its stat): the next request opens the path afresh.
   */
  invalidate(): void;
}

export type OpenCallback = (err: NodeJS.ErrnoException | null, file?: FileVersion) => void;

export interface FileTableOptions {
  /** Most files kept open by the table (and so fds it holds). */
  maxFiles: number;
  /** How long an entry is trusted before the path is checked again. */
  revalidateMs: number;
  /**
   * How long an entry may go unasked for before its fd is closed (0:
   * never), as nginx's open_file_cache inactive=: a file deleted or
   * replaced by a deploy and never asked for again would otherwise keep its
   * inode (and its disk space) until evicted. Default 60 s.
   */
  inactiveMs?: number;
}

/** The longest wait between two sweeps for inactive entries. */
const SWEEP_MAX_MS = 10_000;

// O_NONBLOCK: opening a FIFO must not park a thread-pool thread; it has no
// effect on regular files.
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

class Entry implements FileVersion {
  readonly size: number;
  type: string | null = null;
  etag: string | null = null;
  strongEtag: string | null = null;
  codedEtag: string | null = null;
  lastModified: string | null = null;
  realPath: string | null = null;
  bytes: Buffer | null = null;
  readonly heads = new Map<string, HeadLists>();
  refs = 1;
  cached = false;
  checkedAt = 0;
  /** When a request last took this entry (Date.now()). */
  usedAt = 0;
  /** FileTable.inserts when this entry last moved to the recent end. */
  touchedAt = -1;
  constructor(
    private readonly table: FileTable,
    readonly path: string,
    readonly fd: number,
    readonly stat: fs.Stats,
  ) {
    this.size = stat.size;
  }

  invalidate(): void {
    this.table.drop(this);
  }

  trustedUntil(): number {
    return this.cached ? this.checkedAt + this.table.revalidateMs : 0;
  }

  release(): void {
    if (--this.refs === 0) fs.close(this.fd, () => {});
  }
}

/** Whether `now` (a path stat) describes another version than `then` (the fd's stat). */
function isChanged(then: fs.Stats, now: fs.Stats): boolean {
  return then.ino !== now.ino || then.dev !== now.dev || then.size !== now.size || then.mtimeMs !== now.mtimeMs || then.ctimeMs !== now.ctimeMs;
}

export class FileTable {
  // Map order is recency order: a hit moves its entry to the end.
  private readonly entries = new Map<string, Entry>();
  /** Paths being opened or revalidated, with everyone waiting for the outcome. */
  private readonly pending = new Map<string, OpenCallback[]>();
  private readonly maxFiles: number;
  readonly revalidateMs: number;
  private readonly inactiveMs: number;
  private sweeper: NodeJS.Timeout | null = null;
  /** Entries inserted so far: recency only matters relative to inserts. */
  private inserts = 0;
  /**
   * What the table has done: opens answered from a trusted entry (hits), by
   * a stat that found the entry unchanged (revalidated), or by an open
   * (misses); entries evicted for room, and shed when descriptors ran short.
   */
  readonly counts = { hits: 0, revalidated: 0, misses: 0, evicted: 0, shed: 0, inactive: 0 };

  constructor(opts: FileTableOptions) {
    this.maxFiles = opts.maxFiles;
    this.revalidateMs = opts.revalidateMs;
    this.inactiveMs = opts.inactiveMs ?? 60_000;
  }

  /** Most files cached at once. */
  get capacity(): number {
    return this.maxFiles;
  }

  /** Files currently cached (each holds an fd). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Opens `path` for reading, from the table when it holds a fresh entry
   * (then `cb` runs before this returns), else with open + fstat. Opens and
   * revalidations of one path that overlap are made once and shared, so a
   * burst of requests for a cold file costs one descriptor, not one each.
   */
  open(path: string, cb: OpenCallback, extraFlags = 0): void {
    const entry = this.entries.get(path);
    const now = Date.now();
    if (entry !== undefined && now - entry.checkedAt < this.revalidateMs) {
      entry.usedAt = now;
      this.touch(entry);
      entry.refs++;
      this.counts.hits++;
      return cb(null, entry);
    }
    const waiting = this.pending.get(path);
    if (waiting !== undefined) {
      waiting.push(cb);
      return;
    }
    this.pending.set(path, [cb]);
    const deliver: OpenCallback = (err, file) => this.deliver(path, err, file as Entry | undefined);
    if (entry === undefined) {
      this.counts.misses++;
      return this.openFresh(path, deliver, true, extraFlags);
    }
    fs.stat(path, (err, now) => {
      if (!err && !isChanged(entry.stat, now) && entry.cached) {
        this.counts.revalidated++;
        entry.checkedAt = Date.now();
        entry.usedAt = entry.checkedAt;
        this.touch(entry);
        entry.refs++;
        return deliver(null, entry);
      }
      this.drop(entry);
      this.counts.misses++;
      this.openFresh(path, deliver, true, extraFlags);
    });
  }

  /** Hands the outcome of one shared open to everyone who asked for `path` meanwhile (the open's own reference goes to the first). */
  private deliver(path: string, err: NodeJS.ErrnoException | null, file: Entry | undefined): void {
    const waiting = this.pending.get(path) ?? [];
    this.pending.delete(path);
    if (file !== undefined) file.refs += waiting.length - 1;
    for (const cb of waiting) {
      if (file === undefined) cb(err);
      else cb(null, file);
    }
  }

  /** Closes every idle cached fd (in-flight responses keep theirs). */
  clear(): void {
    for (const entry of [...this.entries.values()]) this.drop(entry);
  }

  private openFresh(path: string, cb: OpenCallback, retry: boolean, extraFlags: number): void {
    fs.open(path, OPEN_FLAGS | extraFlags, (err, fd) => {
      if (err) {
        // Out of fds: give back the idle half of the table (and pooled
        // pipes) and try once more, so a burst degrades to misses before it
        // becomes 503s.
        if (retry && isOutOfDescriptors(err.code) && relieveShortage() > 0) {
          return this.openFresh(path, cb, false, extraFlags);
        }
        return cb(err);
      }
      fs.fstat(fd, (statErr, stat) => {
        if (statErr) {
          fs.close(fd, () => {});
          return cb(statErr);
        }
        const entry = new Entry(this, path, fd, stat);
        // Only regular files are worth an fd: directories are looked at once
        // (for their index) and everything else is refused.
        if (stat.isFile() && this.maxFiles > 0) this.insert(entry);
        cb(null, entry);
      });
    });
  }

  private insert(entry: Entry): void {
    const previous = this.entries.get(entry.path);
    if (previous) this.drop(previous);
    entry.cached = true;
    entry.refs++;
    entry.checkedAt = Date.now();
    entry.usedAt = entry.checkedAt;
    entry.touchedAt = ++this.inserts;
    this.entries.set(entry.path, entry);
    this.startSweeping();
    while (this.entries.size > this.maxFiles) {
      const oldest = this.entries.values().next().value as Entry;
      this.drop(oldest);
      this.counts.evicted++;
    }
  }

  /**
   * Moves `entry` to the recent end, at most once between two inserts: only
   * an insert evicts, and an entry already moved since the last one is
   * behind every entry that was not, so moving it again would change no
   * eviction that matters (and a hit stays two map operations cheaper).
   */
  private touch(entry: Entry): void {
    if (entry.touchedAt === this.inserts) return;
    entry.touchedAt = this.inserts;
    this.entries.delete(entry.path);
    this.entries.set(entry.path, entry);
  }

  /** Removes an entry and gives back the table's reference (idempotent). */
  drop(entry: Entry): void {
    if (!entry.cached) return;
    entry.cached = false;
    if (this.entries.get(entry.path) === entry) this.entries.delete(entry.path);
    entry.release();
  }

  /** Sweeps for inactive entries while the table holds any; the timer never keeps the process alive. */
  private startSweeping(): void {
    if (this.sweeper !== null || this.inactiveMs <= 0) return;
    this.sweeper = setInterval(() => this.sweepInactive(Date.now()), Math.min(SWEEP_MAX_MS, this.inactiveMs));
    this.sweeper.unref();
  }

  /** Closes the idle entries no request took in the last inactiveMs; returns how many. */
  sweepInactive(now: number): number {
    let closed = 0;
    for (const entry of [...this.entries.values()]) {
      if (entry.refs === 1 && now - entry.usedAt >= this.inactiveMs) {
        this.drop(entry);
        closed++;
      }
    }
    this.counts.inactive += closed;
    if (this.entries.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
    return closed;
  }

  /** Drops the least recently used half of the idle entries; returns how many. */
  shed(): number {
    const idle = [...this.entries.values()].filter((e) => e.refs === 1);
    const victims = idle.slice(0, Math.max(1, Math.ceil(idle.length / 2)));
    for (const entry of victims) this.drop(entry);
    this.counts.shed += victims.length;
    return victims.length;
  }
}

/**
 * The process-wide table: fds are a process resource, so one budget, sized
 * from RLIMIT_NOFILE (descriptors.ts) and given back when descriptors run
 * short.
 */
export const fileTable = new FileTable({ maxFiles: tableBudget(openFileLimit()), revalidateMs: 1000 });
addHolder({ held: () => fileTable.size, relieve: () => fileTable.shed() });

/** Opens `path` through the process-wide table; `extraFlags` (O_NOFOLLOW, say) are added to the open. */
export function openFile(path: string, cb: OpenCallback, extraFlags = 0): void {
  fileTable.open(path, cb, extraFlags);
}
