// Loads the addon and declares its interface. Never throws: without the
// addon the copy engine serves and `reason` says why.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Called once per pending transfer: status is DONE, EOF or -errno. */
export type TransferCallback = (status: number, bytes: number) => void;

/** A body piece for sendSegments: literal bytes or [fd, offset, count]. */
export type NativeSegment = Buffer | [number, number, number];

export interface NativeBinding {
  /**
   * Sends `count` bytes of `inFd` from `offset` to the socket `outFd`.
   * Returns DONE, EOF or -errno when finished within the call (the callback
   * is then never called), or PENDING: the transfer continues on a duplicate
   * of `outFd` and `callback(status, totalBytes)` runs exactly once.
   */
  sendfile(outFd: number, inFd: number, offset: number, count: number, maxChunk: number, id: number, callback: TransferCallback): number;
  /** Same contract for a list of segments moved by `mover`. */
  sendSegments(mover: number, outFd: number, segments: NativeSegment[], maxChunk: number, id: number, callback: TransferCallback): number;
  /** Stops a pending transfer; its callback then runs with -ECANCELED. */
  cancel(id: number): boolean;
  /** Transfers waiting on the event loop (for tests and leak checks). */
  pendingTransfers(): number;
  readonly DONE: number;
  readonly EOF: number;
  readonly PENDING: number;
  readonly MOVER_SENDFILE: number;
  readonly MOVER_SPLICE: number;
}

export interface NativeLoad {
  binding: NativeBinding | null;
  reason: string;
}

/** The package root: the nearest ancestor whose package.json names sluice. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'sluice') return dir;
    } catch {
      // not here; keep walking up
    }
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}

function load(): NativeLoad {
  if (process.platform !== 'linux') {
    return { binding: null, reason: `zero-copy engines need Linux (this is ${process.platform})` };
  }
  if (process.env.SLUICE_DISABLE_NATIVE === '1') {
    return { binding: null, reason: 'native addon disabled by SLUICE_DISABLE_NATIVE=1' };
  }
  const root = packageRoot();
  const tried: string[] = [];
  for (const flavour of ['Release', 'Debug']) {
    const file = path.join(root, 'native', 'build', flavour, 'sluice.node');
    if (!fs.existsSync(file)) {
      tried.push(file);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return { binding: require(file) as NativeBinding, reason: '' };
    } catch (err) {
      return { binding: null, reason: `native addon failed to load: ${(err as Error).message}` };
    }
  }
  return { binding: null, reason: `native addon not built (looked for ${tried.join(', ')})` };
}

export const native: NativeLoad = load();
