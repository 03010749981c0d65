// Header values derived from a file: type, validators, cache policy.
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import * as mime from 'mime-types';

/** Content-Type for a file name, with a charset for text types. */
export function contentTypeFor(filePath: string): string {
  return mime.contentType(path.extname(filePath)) || 'application/octet-stream';
}

/**
 * Weak ETag from size and mtime, the same value the `etag` package (and so
 * send/serve-static) gives for a Stats, so caches keep validating across a
 * switch to sluice.
 */
export function weakEtag(stat: Pick<Stats, 'size' | 'mtimeMs'>): string {
  return `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Cache-Control value for a max-age in milliseconds (send's rounding). */
export function cacheControlValue(maxAgeMs: number, immutable: boolean): string {
  const seconds = Math.floor(maxAgeMs / 1000);
  return `public, max-age=${seconds}${immutable ? ', immutable' : ''}`;
}

/** Content-Range for a satisfied range. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}
