'use strict';
// The soak's site (bench/soak.js): files of 1 KiB to 64 MiB whose bytes the
// harness keeps to verify every body against, files replaced (by rename)
// while they are served, and compressible files written fresh during the
// run so that the compress cache keeps missing.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const KiB = 1024;
const MiB = 1024 * KiB;
/** [size, how many]: mostly small files, as a site is, and one 64 MiB file. */
const SIZES = [
  [1 * KiB, 24],
  [16 * KiB, 12],
  [64 * KiB, 8],
  [1 * MiB, 4],
  [8 * MiB, 2],
  [64 * MiB, 1],
];
const SWAPPED = 4;
const SWAP_SIZES = [200 * KiB, 300 * KiB];
const FRESH_KEPT = 16;

/** Compressible text, different for every `seed`. */
function text(seed, bytes) {
  const words = ['sluice', 'static', 'kernel', 'socket', 'page', 'cache', 'range', 'etag', seed];
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `${words[(i * 7 + seed.length) % words.length]} ${i % 97}\n`;
  return Buffer.from(out.slice(0, bytes));
}

class SoakSite {
  constructor(root) {
    this.root = root;
    /** URL path → the bytes it must serve. */
    this.files = new Map();
    /** URL path → the bytes of each version it may serve (replaced while served). */
    this.swapped = new Map();
    /** URL paths of compressible files, newest last. */
    this.fresh = [];
    this.freshCount = 0;
    /** When each fresh file was deleted (Date.now()). */
    this.deletedAt = [];
    fs.mkdirSync(path.join(root, 'fresh'), { recursive: true });
    for (const [size, count] of SIZES) {
      for (let i = 0; i < count; i++) this.add(`/f${size}-${i}.bin`, crypto.randomBytes(size));
    }
    for (let i = 0; i < SWAPPED; i++) this.addSwapped(`/swap-${i}.bin`);
    for (let i = 0; i < 8; i++) this.addFresh();
  }

  add(urlPath, bytes) {
    fs.writeFileSync(path.join(this.root, urlPath), bytes);
    this.files.set(urlPath, bytes);
  }

  addSwapped(urlPath) {
    const versions = SWAP_SIZES.map((size) => crypto.randomBytes(size));
    this.swapped.set(urlPath, versions);
    fs.writeFileSync(path.join(this.root, urlPath), versions[0]);
  }

  /** Replaces every swapped file with its other version, each by an atomic rename. */
  swap(turn) {
    for (const [urlPath, versions] of this.swapped) {
      const file = path.join(this.root, urlPath);
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, versions[turn % versions.length]);
      fs.renameSync(tmp, file);
    }
  }

  /**
   * Writes a new compressible file (a compress-cache miss when first asked
   * for with Accept-Encoding) and deletes the oldest beyond FRESH_KEPT, as a
   * deploy does: the tree stays the same size, so RSS that grows over the
   * run is the server's, not the site's.
   */
  addFresh() {
    const n = this.freshCount++;
    const urlPath = `/fresh/t${n}.txt`;
    this.add(urlPath, text(`soak${n}`, 20 * KiB + ((n * 7919) % (180 * KiB))));
    this.fresh.push(urlPath);
    while (this.fresh.length > FRESH_KEPT) {
      const old = this.fresh.shift();
      fs.rmSync(path.join(this.root, old), { force: true });
      this.files.delete(old);
      this.deletedAt.push(Date.now());
    }
  }

  /** How many files the tree holds, with those deleted within `withinMs` (the file table may still hold them). */
  count(withinMs = 0) {
    const recent = this.deletedAt.filter((t) => Date.now() - t < withinMs).length;
    return this.files.size + this.swapped.size * SWAP_SIZES.length + recent;
  }

  /** The paths of the fixed files (not the fresh ones, which come and go) of at most `max` bytes. */
  pathsUpTo(max) {
    return [...this.files.keys()].filter((p) => !p.startsWith('/fresh/') && this.files.get(p).length <= max);
  }

  pathsOver(min) {
    return [...this.files.keys()].filter((p) => !p.startsWith('/fresh/') && this.files.get(p).length > min);
  }
}

module.exports = { SoakSite, KiB, MiB };
