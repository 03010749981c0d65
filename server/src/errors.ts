// Coded errors and the single errno → behaviour table.
import { getSystemErrorName } from 'node:util';

/** An error raised by sluice itself; `code` is stable (ERR_SLUICE_*). */
export class SluiceError extends Error {
  readonly code: string;
  readonly status?: number;
  constructor(code: string, message: string, status?: number) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

/**
 * Builds an Error shaped like Node's own system errors from a negative errno
 * (as the addon returns it): message "EPIPE: broken pipe, sendfile", with
 * `errno` (negative), `code` and `syscall`.
 */
export function errnoError(rc: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = safeErrorName(rc);
  const err: NodeJS.ErrnoException = new Error(`${code}: ${describeErrno(code)}, ${syscall}${path ? ` '${path}'` : ''}`);
  err.errno = rc;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

function safeErrorName(rc: number): string {
  try {
    return getSystemErrorName(rc);
  } catch {
    return `Unknown system error ${rc}`;
  }
}

const DESCRIPTIONS: Record<string, string> = {
  EPIPE: 'broken pipe',
  ECONNRESET: 'connection reset by peer',
  ECANCELED: 'operation canceled',
  EPERM: 'operation not permitted',
  ENOSYS: 'function not implemented',
  EINVAL: 'invalid argument',
  EBADF: 'bad file descriptor',
  ENOMEM: 'not enough memory',
  EMFILE: 'too many open files',
  ENFILE: 'file table overflow',
  EOPNOTSUPP: 'operation not supported on socket',
};

function describeErrno(code: string): string {
  return DESCRIPTIONS[code] ?? 'system error';
}

/** How the server reacts to an errno code. */
export type ErrnoClass = 'again' | 'client-gone' | 'capability' | 'not-found' | 'forbidden' | 'busy' | 'fatal';

/** The one errno table (send and nginx agree on the HTTP mapping). */
export function classifyErrno(code: string | undefined): ErrnoClass {
  switch (code) {
    case 'EAGAIN':
    case 'EWOULDBLOCK':
      return 'again';
    case 'EPIPE':
    case 'ECONNRESET':
    case 'ECANCELED':
    case 'ERR_STREAM_DESTROYED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return 'client-gone';
    case 'ENOSYS':
    case 'EOPNOTSUPP':
      return 'capability';
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
      return 'not-found';
    case 'EACCES':
    case 'ELOOP':
    case 'EPERM':
      return 'forbidden';
    case 'EMFILE':
    case 'ENFILE':
      return 'busy';
    default:
      return 'fatal';
  }
}

/** HTTP status for a file-system error met before the head was sent. */
export function statusForErrno(code: string | undefined): number {
  switch (classifyErrno(code)) {
    case 'not-found':
      return 404;
    case 'forbidden':
      return 403;
    case 'busy':
      return 503;
    default:
      return 500;
  }
}
