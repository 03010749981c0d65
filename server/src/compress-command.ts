// `sluice compress DIR`: writes .br and .gz (and .zst where zlib has it)
// siblings ahead of time, for compressed bytes from the first request.
// Compressible files only (the same rule as the compress cache), in
// parallel, skipping siblings already newer than their source; a progress
// line on a terminal, a summary at the end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CACHE_CODINGS, compressor, isCompressibleType, MAX_SOURCE_BYTES, MIN_COMPRESS_BYTES } from './compress-cache';
import { contentTypeFor } from './head';
import type { CacheCoding } from './compress-cache';
import { SUFFIX } from './precompressed';

export interface CompressSummary {
  /** Siblings written. */
  written: number;
  /** Siblings already newer than their source. */
  upToDate: number;
  /** Siblings not kept: no smaller than their source. */
  notSmaller: number;
  /** Source bytes compressed, and the bytes of the siblings written. */
  bytesIn: number;
  bytesOut: number;
}

const SIBLING = /\.(?:br|gz|zst)$/;

/** Every regular file under `dir` worth compressing (dot-directories and siblings skipped). */
function sources(dir: string): { file: string; stat: fs.Stats }[] {
  const out: { file: string; stat: fs.Stats }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.')) out.push(...sources(file));
      continue;
    }
    if (!entry.isFile() || SIBLING.test(entry.name)) continue;
    const stat = fs.statSync(file);
    if (stat.size >= MIN_COMPRESS_BYTES && stat.size <= MAX_SOURCE_BYTES && isCompressibleType(contentTypeFor(file))) out.push({ file, stat });
  }
  return out;
}

/** Writes `file`'s sibling in `coding` unless one newer than it exists; what happened. */
async function compressOne(file: string, stat: fs.Stats, coding: CacheCoding): Promise<'written' | 'up-to-date' | 'not-smaller'> {
  const sibling = file + SUFFIX[coding];
  const existing = await fs.promises.stat(sibling).catch(() => null);
  if (existing !== null && existing.mtimeMs >= stat.mtimeMs) return 'up-to-date';
  const tmp = `${sibling}.${process.pid}.tmp`;
  try {
    await pipeline(fs.createReadStream(file), compressor(coding, stat.size), fs.createWriteStream(tmp, { mode: 0o644 }));
    if ((await fs.promises.stat(tmp)).size >= stat.size) return 'not-smaller';
    await fs.promises.rename(tmp, sibling);
    return 'written';
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The summary line. */
export function summaryLine(s: CompressSummary): string {
  const extra = [s.upToDate ? `${s.upToDate} up to date` : '', s.notSmaller ? `${s.notSmaller} not smaller, not kept` : ''].filter(Boolean);
  return `sluice compress: ${s.written} written${extra.length ? ` (${extra.join(', ')})` : ''}, ${formatBytes(s.bytesIn)} → ${formatBytes(s.bytesOut)}`;
}

/**
 * Compresses every compressible file under `dir`, `parallel` at a time;
 * `progress` is told after each sibling.
 */
export async function compressTree(
  dir: string,
  parallel: number,
  progress: (s: CompressSummary, done: number, total: number) => void,
): Promise<CompressSummary> {
  const jobs = sources(dir).flatMap(({ file, stat }) => CACHE_CODINGS.map((coding) => ({ file, stat, coding })));
  const summary: CompressSummary = { written: 0, upToDate: 0, notSmaller: 0, bytesIn: 0, bytesOut: 0 };
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const { file, stat, coding } = jobs[next++];
      const outcome = await compressOne(file, stat, coding);
      if (outcome === 'written') {
        summary.written++;
        summary.bytesIn += stat.size;
        summary.bytesOut += (await fs.promises.stat(file + SUFFIX[coding])).size;
      } else if (outcome === 'up-to-date') summary.upToDate++;
      else summary.notSmaller++;
      progress(summary, ++done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return summary;
}

/** The command: `sluice compress DIR`; returns the exit code. */
export async function runCompressCommand(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0].startsWith('-')) {
    process.stderr.write(
      'Usage: sluice compress DIR\n  writes .br, .gz' + (CACHE_CODINGS.includes('zstd') ? ', .zst' : '') + ' siblings of the compressible files under DIR\n',
    );
    return 2;
  }
  const dir = path.resolve(args[0]);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    process.stderr.write(`sluice: cannot compress ${dir}: not a directory\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  const summary = await compressTree(dir, os.availableParallelism(), (s, done, total) => {
    if (tty) process.stderr.write(`\r${done}/${total} siblings, ${formatBytes(s.bytesIn)} → ${formatBytes(s.bytesOut)}`);
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(`${summaryLine(summary)}\n`);
  return 0;
}
