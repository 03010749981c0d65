// The compress cache's worker thread: makes one variant at a time, at the
// lowest CPU priority (SCHED_IDLE, else nice 19: on Linux both belong to a
// thread, not the process), with zlib's synchronous calls so the work stays
// on this thread and never queues in libuv's pool ahead of file opens. The
// main thread only keeps the index.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parentPort } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { native } from './native';

/** What the main thread asks for: the source's identity at the time of asking, and where the entry goes. */
export interface CompressRequest {
  id: number;
  source: string;
  identity: { dev: number; ino: number; size: number; mtimeMs: number };
  entry: string;
  coding: 'br' | 'zstd' | 'gzip';
  level: number;
}

export type CompressOutcome =
  { id: number; kind: 'made'; size: number } | { id: number; kind: 'busy' | 'discarded' | 'not-smaller' } | { id: number; kind: 'failed'; message: string };

/** A temporary entry older than this was left by a process that died. */
const STALE_TMP_MS = 10 * 60 * 1000;

function sameVersion(stat: fs.Stats, id: CompressRequest['identity']): boolean {
  return stat.dev === id.dev && stat.ino === id.ino && stat.size === id.size && stat.mtimeMs === id.mtimeMs;
}

function compressBytes(bytes: Buffer, coding: CompressRequest['coding'], level: number): Buffer {
  if (coding === 'br') {
    const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT } = zlib.constants;
    return zlib.brotliCompressSync(bytes, { params: { [BROTLI_PARAM_QUALITY]: level, [BROTLI_PARAM_SIZE_HINT]: bytes.length } });
  }
  if (coding === 'zstd') {
    const z = zlib as unknown as { zstdCompressSync(b: Buffer, o: object): Buffer; constants: Record<string, number> };
    return z.zstdCompressSync(bytes, { params: { [z.constants.ZSTD_c_compressionLevel]: level } });
  }
  return zlib.gzipSync(bytes, { level });
}

/**
 * The variant of the source's bytes, or null when the source is not (or,
 * by the end, no longer) the version asked for: bytes read from a file that
 * changed meanwhile may be of no single version.
 */
function compressVersion(req: CompressRequest): Buffer | null {
  const fd = fs.openSync(req.source, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    if (!sameVersion(fs.fstatSync(fd), req.identity)) return null;
    const bytes = Buffer.allocUnsafe(req.identity.size);
    for (let at = 0; at < bytes.length;) {
      const n = fs.readSync(fd, bytes, at, bytes.length - at, at);
      if (n === 0) return null;
      at += n;
    }
    const out = compressBytes(bytes, req.coding, req.level);
    return sameVersion(fs.fstatSync(fd), req.identity) ? out : null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes the variant to an exclusively created temporary name, then renames it into place. */
export function makeVariant(req: CompressRequest): CompressOutcome {
  const tmp = `${req.entry}.tmp`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is making it, or died making it long ago.
    const stat = fs.lstatSync(tmp, { throwIfNoEntry: false });
    if (stat !== undefined && Date.now() - stat.mtimeMs > STALE_TMP_MS) fs.rmSync(tmp, { force: true });
    return { id: req.id, kind: 'busy' };
  }
  let kept = false;
  try {
    const out = compressVersion(req);
    if (out === null) return { id: req.id, kind: 'discarded' };
    if (out.length >= req.identity.size) return { id: req.id, kind: 'not-smaller' };
    fs.writeSync(fd, out, 0, out.length, 0);
    fs.fsyncSync(fd);
    fs.renameSync(tmp, req.entry);
    kept = true;
    return { id: req.id, kind: 'made', size: out.length };
  } finally {
    fs.closeSync(fd);
    if (!kept) fs.rmSync(tmp, { force: true });
  }
}

/**
 * SCHED_IDLE where the addon can set it: a serving thread that wakes
 * preempts this one at once, where over a nice value of 19 it could wait
 * out the rest of this thread's slice. Otherwise (no addon, or refused) nice 19.
 */
function lowerPriority(): void {
  if (native.binding?.idleThisThread?.() === 0) return;
  try {
    os.setPriority(19);
  } catch {
    // Not allowed here: compress at normal priority.
  }
}

if (parentPort !== null) {
  const port = parentPort;
  lowerPriority();
  port.on('message', (req: CompressRequest) => {
    let outcome: CompressOutcome;
    try {
      outcome = makeVariant(req);
    } catch (err) {
      outcome = { id: req.id, kind: 'failed', message: (err as Error).message };
    }
    port.postMessage(outcome);
  });
}
