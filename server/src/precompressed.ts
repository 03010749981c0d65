// Precompressed variants on disk (`x.js.br`, `x.js.zst`, `x.js.gz`,
// `x.js.deflate` next to `x.js`): which exist, and which one a request's Accept-Encoding selects.
//
// Which variants a file has is remembered per path for at most FRESH_MS (the
// open-file table's own revalidation interval), so a variant that appears or
// disappears is noticed within a second, and a hot file costs one Map lookup
// rather than a stat per coding per request. A variant that vanished inside
// that second fails to open, and the caller then sends the original.
import * as fs from 'node:fs';
import { negotiateEncoding, type ContentCoding, type Encoding } from './negotiate';

export type { ContentCoding };

/** File-name suffix and Content-Encoding value of each coding. */
export const SUFFIX: Readonly<Record<ContentCoding, string>> = { br: '.br', zstd: '.zst', gzip: '.gz', deflate: '.deflate' };

/** How long what we learned of a path's variants is trusted. */
export const FRESH_MS = 1000;
/** Paths remembered; past this the oldest are forgotten. */
const MAX_PATHS = 10_000;
/** Distinct Accept-Encoding values remembered per set of variants. */
const MAX_MEMO = 256;

/** The variants of one path, as last seen on disk. */
export interface Variants {
  /** Codings present, in server preference order ([] for none). */
  readonly codings: readonly ContentCoding[];
  /** Bit i set when the i-th configured coding is present: indexes the negotiation memo. */
  readonly mask: number;
  readonly seenAt: number;
}

type Waiter = (variants: Variants) => void;

const NO_VARIANTS_MASK = 0;
const STAR = /\*/g;

export class VariantIndex {
  private readonly known = new Map<string, Variants>();
  private readonly pending = new Map<string, Waiter[]>();
  /** Per variant set (by mask): Accept-Encoding value → chosen coding, or null for identity. */
  private readonly memo: Array<Map<string, ContentCoding | null>>;
  /** Per mask: the codings present, in preference order. */
  private readonly sets: ContentCoding[][];
  /** Per mask: the negotiation candidates, variants first, then identity. */
  private readonly candidates: Encoding[][];

  /**
   * `codings`: what to look for, in server preference order. `starAs`: a
   * coding that `*` in Accept-Encoding stands for instead of "any coding"
   * (@fastify/static and @fastify/compress read `*` as gzip).
   */
  constructor(
    private readonly codings: readonly ContentCoding[],
    private readonly starAs: ContentCoding | null = null,
  ) {
    const sets = 1 << codings.length;
    this.memo = Array.from({ length: sets }, () => new Map());
    this.sets = Array.from({ length: sets }, (_, mask) => codings.filter((_c, i) => (mask & (1 << i)) !== 0));
    this.candidates = this.sets.map((set) => [...set, 'identity']);
  }

  /** Whether this index looks for anything at all. */
  get enabled(): boolean {
    return this.codings.length > 0;
  }

  /** What is known of `path`, if it is still fresh; else undefined (call probe()). */
  lookup(path: string, now: number): Variants | undefined {
    const v = this.known.get(path);
    return v !== undefined && now - v.seenAt < FRESH_MS ? v : undefined;
  }

  /** Stats every candidate of `path` (concurrent requests share one probe). */
  probe(path: string, cb: Waiter): void {
    const waiting = this.pending.get(path);
    if (waiting !== undefined) {
      waiting.push(cb);
      return;
    }
    this.pending.set(path, [cb]);
    let left = this.codings.length;
    let mask = NO_VARIANTS_MASK;
    this.codings.forEach((coding, i) => {
      fs.stat(path + SUFFIX[coding], (err, stat) => {
        if (!err && stat.isFile()) mask |= 1 << i;
        if (--left === 0) this.settle(path, mask);
      });
    });
  }

  /** Drops what is known of `path` (a variant failed to open). */
  forget(path: string): void {
    this.known.delete(path);
  }

  /**
   * The coding to send for an Accept-Encoding value, or null for the
   * original (identity, or nothing acceptable: the original is then sent
   * anyway, as nginx and every static server do, rather than a 406).
   */
  choose(acceptEncoding: string | undefined, variants: Variants): ContentCoding | null {
    if (acceptEncoding === undefined || variants.mask === NO_VARIANTS_MASK) return null;
    const memo = this.memo[variants.mask];
    let choice = memo.get(acceptEncoding);
    if (choice === undefined) {
      const header = this.starAs === null ? acceptEncoding : acceptEncoding.toLowerCase().replace(STAR, this.starAs);
      const best = negotiateEncoding(header, this.candidates[variants.mask]);
      choice = best === null || best === 'identity' ? null : best;
      if (memo.size >= MAX_MEMO) memo.clear();
      memo.set(acceptEncoding, choice);
    }
    return choice;
  }

  private settle(path: string, mask: number): void {
    const variants: Variants = {
      codings: this.sets[mask],
      mask,
      seenAt: Date.now(),
    };
    this.known.delete(path);
    this.known.set(path, variants);
    if (this.known.size > MAX_PATHS) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    const waiters = this.pending.get(path) ?? [];
    this.pending.delete(path);
    for (const w of waiters) w(variants);
  }
}
