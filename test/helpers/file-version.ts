// A FileVersion with no file behind it, for the pure modules' table tests
// (plan.ts, head.ts): only the path, the size and the mtime matter there.
import type * as fs from 'node:fs';
import type { FileVersion } from '../../server/src/file-table';

export function fakeVersion(p: string, size: number, mtimeMs: number, fd = 3): FileVersion {
  return {
    path: p,
    fd,
    stat: { size, mtimeMs } as fs.Stats,
    size,
    type: null,
    etag: null,
    strongEtag: null,
    codedEtag: null,
    lastModified: null,
    realPath: null,
    bytes: null,
    heads: new Map(),
    release: () => undefined,
    invalidate: () => undefined,
  };
}
