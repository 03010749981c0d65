// Strong ETags from the bytes (serve's `etag: true`): SHA-1 of the file's
// extension, '-', and its content, the value serve computes, so caches keep
// validating after a switch. Read once per file version from its own fd
// with positional reads, and kept with the version; concurrent requests for
// one version share one read.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileVersion } from './file-table';

const CHUNK = 256 * 1024;
const pending = new WeakMap<FileVersion, ((err: Error | null) => void)[]>();

/** Sets `version.strongEtag` (named for `namePath`'s extension), then calls back. */
export function ensureStrongEtag(version: FileVersion, namePath: string, cb: (err: Error | null) => void): void {
  if (version.strongEtag !== null) return cb(null);
  const waiting = pending.get(version);
  if (waiting !== undefined) {
    waiting.push(cb);
    return;
  }
  pending.set(version, [cb]);
  const hash = createHash('sha1');
  hash.update(path.extname(namePath));
  hash.update('-');
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, version.size)));
  const finish = (err: Error | null): void => {
    if (err === null) version.strongEtag = `"${hash.digest('hex')}"`;
    const waiters = pending.get(version) ?? [];
    pending.delete(version);
    for (const w of waiters) w(err);
  };
  const readFrom = (offset: number): void => {
    if (offset >= version.size) return finish(null);
    fs.read(version.fd, buffer, 0, Math.min(buffer.length, version.size - offset), offset, (err, n) => {
      if (err) return finish(err);
      if (n === 0) return finish(new Error('file shrank while hashing'));
      hash.update(buffer.subarray(0, n));
      readFrom(offset + n);
    });
  };
  readFrom(0);
}
