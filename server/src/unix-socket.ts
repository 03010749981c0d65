// A Unix socket's file before a server listens on it, and its mode after.
// bind(2) fails with EADDRINUSE on any existing file, so a server that died
// without closing (SIGKILL, a crash) would keep its successor from
// starting: a socket file nobody accepts on is removed, one a live server
// accepts on is refused, and anything that is not a socket is left alone.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { socketInUseError, socketPathError } from './errors';

export { SocketPathError } from './errors';

/** Resolves whether something accepts connections on the socket at `file`. */
function isAccepting(file: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      // ECONNREFUSED: a socket file with no listener (left by a dead server).
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(socketPathError(`cannot check it: ${err.code ?? err.message}`, file));
    });
  });
}

/**
 * Makes `file` free to bind: nothing there, or a stale socket (removed).
 * Rejects with a SocketPathError when a live server owns it or the path is
 * some other kind of file.
 */
export async function freeSocketPath(file: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw socketPathError((err as NodeJS.ErrnoException).code ?? (err as Error).message, file);
  }
  if (!stat.isSocket()) throw socketPathError('the path exists and is not a socket (left as it is)', file);
  if (await isAccepting(file)) throw socketInUseError(file);
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw socketPathError(`cannot remove the stale socket: ${(err as NodeJS.ErrnoException).code}`, file);
    }
  }
}

/**
 * Removes the socket at `file` when the process exits, if it is still the
 * one there now (Node removes it itself when its server closes; a cluster
 * primary's, or one whose process exits before close finishes, would stay).
 */
export function removeOnExit(file: string): void {
  let ino: number;
  try {
    ino = fs.lstatSync(file).ino;
  } catch {
    return;
  }
  process.once('exit', () => {
    try {
      const now = fs.lstatSync(file);
      if (now.isSocket() && now.ino === ino) fs.unlinkSync(file);
    } catch {
      // Gone already.
    }
  });
}
