'use strict';
// Deterministic fixture files in a fresh temp dir. Content is printable ASCII
// (cheap for the load generator to decode) from a seeded PRNG, and the first
// bytes of every 4 KiB page carry the file's tag and the page index, so a
// body with the wrong file, a wrong offset or a duplicated chunk never hashes
// right.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const KiB = 1024;
const MiB = 1024 * KiB;

/** Size keys accepted by --sizes, smallest first. */
const SIZES = {
  '1k': { bytes: 1 * KiB, label: '1 KiB' },
  '64k': { bytes: 64 * KiB, label: '64 KiB' },
  '1m': { bytes: 1 * MiB, label: '1 MiB' },
  '4m': { bytes: 4 * MiB, label: '4 MiB' },
  '256m': { bytes: 256 * MiB, label: '256 MiB' },
};

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const BLOCK = 1 * MiB;
const PAGE = 4 * KiB;

/** One MiB of pseudo-random printable bytes (xorshift32, fixed seed). */
function baseBlock() {
  const block = Buffer.allocUnsafe(BLOCK);
  let x = 0x9e3779b9;
  for (let i = 0; i < BLOCK; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    block[i] = ALPHABET[x & 63];
  }
  return block;
}

/** Fills `chunk` with bytes [offset, offset + chunk.length) of file `key`. */
function fillChunk(chunk, base, key, offset) {
  const salt = (Object.keys(SIZES).indexOf(key) + 1) * 7919; // files differ
  for (let i = 0; i < chunk.length;) {
    const at = (offset + i + salt) % BLOCK;
    const n = Math.min(chunk.length - i, BLOCK - at);
    base.copy(chunk, i, at, at + n);
    i += n;
  }
  // Page markers: "<key>@<page index, 8 hex digits>@" at every 4 KiB boundary.
  const first = Math.ceil(offset / PAGE) * PAGE;
  for (let p = first; p < offset + chunk.length; p += PAGE) {
    const marker = Buffer.from(`${key}@${(p / PAGE).toString(16).padStart(8, '0')}@`);
    const at = p - offset;
    marker.copy(chunk, at, 0, Math.min(marker.length, chunk.length - at));
  }
}

const OWNER = '.owner-pid';

/** Removes fixture dirs left by a harness that was killed (its pid is gone). */
function removeStale() {
  let names;
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('sluice-bench-'));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(os.tmpdir(), name);
    let pid;
    try {
      pid = Number(fs.readFileSync(path.join(dir, OWNER), 'utf8'));
    } catch {
      continue; // not ours, or still being created
    }
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = err.code === 'EPERM';
    }
    if (!alive) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes the files for `keys` into a new temp dir (mode 0755 so an nginx
 * worker running as another user can read them).
 * Returns { dir, files: {key: {key, name, path, size, label, sha256}}, cleanup }.
 */
function makeFixtures(keys) {
  removeStale();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, OWNER), String(process.pid));
  const base = baseBlock();
  const files = {};
  for (const key of keys) {
    const spec = SIZES[key];
    if (!spec) throw new Error(`unknown size '${key}' (expected ${Object.keys(SIZES).join(', ')})`);
    const name = `${key}.bin`;
    const file = path.join(dir, name);
    const hash = crypto.createHash('sha256');
    const fd = fs.openSync(file, 'w', 0o644);
    const chunk = Buffer.allocUnsafe(Math.min(spec.bytes, BLOCK));
    try {
      for (let off = 0; off < spec.bytes; off += chunk.length) {
        const part = chunk.subarray(0, Math.min(chunk.length, spec.bytes - off));
        fillChunk(part, base, key, off);
        hash.update(part);
        fs.writeSync(fd, part, 0, part.length, off);
      }
    } finally {
      fs.closeSync(fd);
    }
    files[key] = { key, name, path: file, size: spec.bytes, label: spec.label, sha256: hash.digest('hex') };
  }
  return {
    dir,
    files,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Bytes [start, end] (inclusive) of a fixture, read back from disk. */
function readSlice(file, start, end) {
  const buf = Buffer.allocUnsafe(end - start + 1);
  const fd = fs.openSync(file.path, 'r');
  try {
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) throw new Error(`${file.path}: short read`);
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

module.exports = { SIZES, makeFixtures, readSlice };
