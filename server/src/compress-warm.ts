// Compress warm-up: at start-up, every compressible file under the root is
// given to the compress cache, behind the jobs requests queue and on the
// cache's idle-priority thread, so the first visitors get compressed bytes
// too. The walk skips dot names (as the default dotfiles policy hides
// them), symbolic links, precompressed siblings and files that have the
// sibling for a coding (the sibling is what is served).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE_CODINGS, isCompressibleType, MAX_SOURCE_BYTES, MIN_COMPRESS_BYTES, type CompressCache } from './compress-cache';
import { contentTypeFor } from './head';
import { SUFFIX } from './precompressed';

/** What a warm-up did. */
export interface WarmSummary {
  /** Compressible files found. */
  files: number;
  /** Variants made (those cached already, or not smaller, are not counted). */
  variants: number;
  /** Bytes of the sources compressed and of the variants made. */
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

const SIBLING = /\.(?:br|gz|zst)$/;

/** The compressible regular files under `dir` (no dot names, no links, no siblings). */
async function sources(dir: string, type: (file: string) => string, out: { file: string; stat: fs.Stats }[] = []): Promise<typeof out> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await sources(file, type, out);
    if (!entry.isFile() || SIBLING.test(entry.name)) continue;
    const stat = await fs.promises.stat(file).catch(() => null);
    if (stat !== null && stat.size >= MIN_COMPRESS_BYTES && stat.size <= MAX_SOURCE_BYTES && isCompressibleType(type(file))) out.push({ file, stat });
  }
  return out;
}

/**
 * Gives every compressible file under `root` to `cache`, one coding at a
 * time for every file (br first: what browsers ask for), one job at a time.
 * `type` is a file's Content-Type (the mimeTypes option's included).
 */
export async function warmCompressCache(cache: CompressCache, root: string, type: (file: string) => string = contentTypeFor): Promise<WarmSummary> {
  const started = Date.now();
  const files = await sources(root, type);
  const summary: WarmSummary = { files: files.length, variants: 0, bytesIn: 0, bytesOut: 0, ms: 0 };
  for (const coding of CACHE_CODINGS) {
    for (const { file, stat } of files) {
      if (fs.existsSync(file + SUFFIX[coding])) continue;
      const made = await cache.warm(file, stat, coding);
      if (made === null) continue;
      summary.variants++;
      summary.bytesIn += stat.size;
      summary.bytesOut += made;
    }
  }
  summary.ms = Date.now() - started;
  return summary;
}
