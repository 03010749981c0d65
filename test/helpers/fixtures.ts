// A fixture tree made once per test run, with random file contents so a
// body that is off by one byte anywhere fails its hash.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SIZES = [0, 1, 4095, 65536, 65537, 1024 * 1024 + 3, 64 * 1024 * 1024] as const;

export interface Fixtures {
  /** The served root. */
  root: string;
  /** A sibling of root whose name starts with root's (`/x/public-other`). */
  sibling: string;
  /** `size-N.bin` under root for every N in SIZES. */
  fileFor(size: number): string;
  /** The bytes of a file under root, by URL path. */
  bytes(urlPath: string): Buffer;
}

let made: Fixtures | null = null;

export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function fixtures(): Fixtures {
  if (made) return made;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
  const root = path.join(base, 'public');
  const sibling = path.join(base, 'public-other');
  fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  fs.mkdirSync(path.join(root, 'noindex'));
  fs.mkdirSync(path.join(root, '.hidden-dir'));
  fs.mkdirSync(sibling);
  for (const size of SIZES) fs.writeFileSync(path.join(root, `size-${size}.bin`), randomBytes(size));
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>root</title>\n');
  fs.writeFileSync(path.join(root, 'dir', 'index.html'), '<!DOCTYPE html><title>dir</title>\n');
  fs.writeFileSync(path.join(root, 'dir', 'sub', 'page.txt'), 'sub page\n');
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
  fs.writeFileSync(path.join(root, 'style.css'), 'body { color: black }\n');
  fs.writeFileSync(path.join(root, 'data.json'), '{"ok":true}\n');
  fs.writeFileSync(path.join(root, 'space name.txt'), 'spaced\n');
  fs.writeFileSync(path.join(root, '.secret'), 'dotfile\n');
  fs.writeFileSync(path.join(root, '.hidden-dir', 'file.txt'), 'hidden\n');
  fs.writeFileSync(path.join(sibling, 'secret.txt'), 'outside the root\n');
  fs.writeFileSync(path.join(base, 'outside.txt'), 'outside the root\n');
  process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  made = {
    root,
    sibling,
    fileFor: (size) => path.join(root, `size-${size}.bin`),
    bytes: (urlPath) => fs.readFileSync(path.join(root, decodeURIComponent(urlPath))),
  };
  return made;
}

const scratchDirs: string[] = [];

/** A scratch directory of its own, removed at exit. */
export function scratchDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-scratch-'));
  if (scratchDirs.length === 0) {
    process.on('exit', () => {
      for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  scratchDirs.push(dir);
  return dir;
}

/** Open fds of this process. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** What each open fd of this process is (its /proc/self/fd link), by number. */
export function openFds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed between the listing and the link (the listing's own fd, say).
    }
  }
  return out;
}

/** The fds in `now` that were not open (or were something else) in `before`, as "fd -> what". */
export function fdsAdded(before: Map<string, string>, now: Map<string, string>): string[] {
  return [...now].filter(([fd, what]) => before.get(fd) !== what).map(([fd, what]) => `${fd} -> ${what}`);
}

/** The files under `dir` this process holds open, sorted. */
export function fdsUnder(dir: string): string[] {
  const found: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + path.sep)) found.push(target);
    } catch {
      // closed between readdir and readlink
    }
  }
  return found.sort();
}
