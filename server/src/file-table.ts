// Open files, each held by reference count: a file stays open until the
// last transfer that uses its fd has called back, so an fd number can never
// be closed (and reused by another open) under a transfer.
import * as fs from 'node:fs';

export interface OpenFile {
  readonly path: string;
  readonly fd: number;
  readonly stat: fs.Stats;
  /** Releases one reference; the fd is closed when none are left. */
  release(): void;
}

class FileRef implements OpenFile {
  private refs = 1;
  constructor(readonly path: string, readonly fd: number, readonly stat: fs.Stats) {}
  release(): void {
    if (--this.refs === 0) fs.close(this.fd, () => {});
  }
}

/**
 * Opens `filePath` read-only and stats the opened fd (never the path again:
 * the stat describes exactly the file whose bytes will be sent).
 */
export function openFile(filePath: string, cb: (err: NodeJS.ErrnoException | null, file?: OpenFile) => void): void {
  // O_NONBLOCK: opening a FIFO must not park a thread-pool thread; it has
  // no effect on regular files.
  fs.open(filePath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK, (err, fd) => {
    if (err) return cb(err);
    fs.fstat(fd, (statErr, stat) => {
      if (statErr) {
        fs.close(fd, () => {});
        return cb(statErr);
      }
      cb(null, new FileRef(filePath, fd, stat));
    });
  });
}
