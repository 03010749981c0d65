// The `symlinks` option: whether a file reached through a symbolic link may
// be served. The check looks at the file actually opened (on Linux its fd's
// /proc/self/fd link, so a link swapped between the check and the open
// cannot fool it), against the real path of root: root itself may be a
// link (a deploy's `current -> releases/42`), only what lies below it counts.
import * as fs from 'node:fs';
import type { FileVersion } from './file-table';
import type { SymlinkPolicy } from './options';

const HAS_PROC_FD = process.platform === 'linux' && fs.existsSync('/proc/self/fd');
const DELETED = ' (deleted)';

export type SymlinkVerdict = (ok: boolean) => void;

export class SymlinkGuard {
  private realRoot: string | null = null;

  /**
   * `root` is the absolute root as requests resolve against it (no trailing
   * slash unless it is '/').
   */
  constructor(
    private readonly root: string,
    private readonly policy: SymlinkPolicy,
  ) {
    try {
      this.realRoot = fs.realpathSync.native(root);
    } catch {
      // Root may not exist yet; it is resolved again on first use.
    }
  }

  get active(): boolean {
    return this.policy !== 'follow';
  }

  /** Calls back with whether `file` (opened under root) may be served. */
  check(file: FileVersion, cb: SymlinkVerdict): void {
    if (this.realRoot === null) {
      fs.realpath.native(this.root, (err, real) => {
        if (err) return cb(false);
        this.realRoot = real;
        this.check(file, cb);
      });
      return;
    }
    const cached = file.realPath;
    if (cached !== null) return cb(this.allows(file.path, cached));
    realPathOf(file, (real) => {
      if (real === null) return cb(false);
      file.realPath = real;
      cb(this.allows(file.path, real));
    });
  }

  /** Whether a file requested as `path` whose real path is `real` passes the policy. */
  allows(path: string, real: string): boolean {
    const realRoot = this.realRoot;
    if (realRoot === null) return false;
    const realPrefix = realRoot === '/' ? '/' : `${realRoot}/`;
    if (this.policy === 'within-root') return real === realRoot || real.startsWith(realPrefix);
    // 'deny': the real path must be the requested one, re-rooted at the real root.
    const below = this.root === '/' ? path.slice(1) : path.slice(this.root.length + 1);
    return real === (below === '' ? realRoot : realPrefix + below);
  }
}

function realPathOf(file: FileVersion, cb: (real: string | null) => void): void {
  if (HAS_PROC_FD) {
    fs.readlink(`/proc/self/fd/${file.fd}`, (err, link) => {
      if (err) return cb(null);
      // A file unlinked since it was opened: its last name is all there is.
      cb(link.endsWith(DELETED) ? link.slice(0, -DELETED.length) : link);
    });
    return;
  }
  fs.realpath.native(file.path, (err, real) => cb(err ? null : real));
}
