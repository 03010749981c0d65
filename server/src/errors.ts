// Coded errors: every ERR_SLUICE_* sluice raises is built here (and CODES
// names them for whoever compares), system errors are shaped as Node's
// own, and one table maps an errno met before the head to an HTTP status.
import { getSystemErrorName } from 'node:util';

/**
 * The code of every error sluice raises itself: stable, documented, and
 * what callers (sluice's own modules among them) compare `err.code` with.
 */
export const CODES = {
  truncated: 'ERR_SLUICE_TRUNCATED',
  aborted: 'ERR_SLUICE_ABORTED',
  notCapturable: 'ERR_SLUICE_NOT_CAPTURABLE',
  sendTimeout: 'ERR_SLUICE_SEND_TIMEOUT',
  engineUnavailable: 'ERR_SLUICE_ENGINE_UNAVAILABLE',
  compressCacheInRoot: 'ERR_SLUICE_COMPRESS_CACHE_IN_ROOT',
  bodyTaken: 'ERR_SLUICE_BODY_TAKEN',
  honoBindings: 'ERR_SLUICE_HONO_BINDINGS',
  socketInUse: 'ERR_SLUICE_SOCKET_IN_USE',
  socketPath: 'ERR_SLUICE_SOCKET_PATH',
  config: 'ERR_SLUICE_CONFIG',
} as const;

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

/** The file ended before the length its Content-Length promised (it shrank while sent). */
export function truncatedError(): SluiceError {
  return new SluiceError(CODES.truncated, 'The file ended before the length promised in Content-Length');
}

/** The client's connection closed before the whole body went out. */
export function abortedError(): SluiceError {
  return new SluiceError(CODES.aborted, 'The client connection closed before the body was sent');
}

/** A replayed request's body is not one file range (the front door then hands the connection to Node). */
export function notCapturableError(): SluiceError {
  return new SluiceError(CODES.notCapturable, 'This body cannot be recorded for the front door');
}

/** The client read nothing for `ms` milliseconds while a body was being sent. */
export function sendTimeoutError(ms: number): SluiceError {
  return new SluiceError(CODES.sendTimeout, `The client read nothing for ${ms} ms`);
}

/** An engine named explicitly cannot run here; `reason` says why. */
export function engineUnavailableError(name: string, reason: string): SluiceError {
  return new SluiceError(CODES.engineUnavailable, `The ${name} engine is not available: ${reason}`);
}

/** The compress cache's directory lies inside the served root (it would serve its own entries). */
export function compressCacheInRootError(dir: string, root: string): SluiceError {
  return new SluiceError(CODES.compressCacheInRoot, `The compress cache directory ${dir} is inside the served root ${root}`);
}

/** A file() Response's body stream read after the server sent the body itself. */
export function bodyTakenError(): Error {
  return Object.assign(new Error('The body was sent by the server'), { code: CODES.bodyTaken });
}

/** sluice/hono met a request without @hono/node-server's Node request and response. */
export function honoBindingsError(): Error {
  const err = new Error("sluice/hono answers on @hono/node-server's Node request and response (c.env.incoming, c.env.outgoing); this request has none");
  return Object.assign(err, { code: CODES.honoBindings });
}

/** Why a socket path cannot be listened on (the message says why, not where); `path` says where. */
export class SocketPathError extends Error {
  constructor(
    message: string,
    readonly code: typeof CODES.socketInUse | typeof CODES.socketPath,
    readonly path = '',
  ) {
    super(message);
  }
}

/** The socket path at `file` cannot be used: `why`. */
export function socketPathError(why: string, file: string): SocketPathError {
  return new SocketPathError(why, CODES.socketPath, file);
}

/** A live server accepts connections on the socket at `file`. */
export function socketInUseError(file: string): SocketPathError {
  return new SocketPathError('in use: a live server accepts connections on it', CODES.socketInUse, file);
}

/** A serve.json that cannot be used: `file`, the key at fault ('' for the whole file), and why. */
export class ServeConfigError extends Error {
  readonly code = CODES.config;
  constructor(
    readonly file: string,
    readonly key: string,
    detail: string,
  ) {
    super(`${file}: ${key === '' ? '' : `${key}: `}${detail}`);
    this.name = 'ServeConfigError';
  }
}

/** Node's name for a negative errno ('EPIPE'), or 'errno N' for one Node does not know. */
export function errnoName(rc: number): string {
  try {
    return getSystemErrorName(rc);
  } catch {
    return `errno ${-rc}`;
  }
}

/**
 * Builds an Error shaped like Node's own system errors from a negative errno
 * (as the addon returns it): message "EPIPE: broken pipe, sendfile", with
 * `errno` (negative), `code` and `syscall`.
 */
export function errnoError(rc: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = errnoName(rc);
  const err: NodeJS.ErrnoException = new Error(`${code}: ${describeErrno(code)}, ${syscall}${path ? ` '${path}'` : ''}`);
  err.errno = rc;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
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

/** What an errno met before the head means for the response. */
export type ErrnoClass = 'not-found' | 'forbidden' | 'busy' | 'fatal';

/**
 * The one errno table (send and nginx agree on the HTTP mapping). ENXIO and
 * ENODEV are what open() says of things that are not files (a Unix socket, a
 * device with no driver behind it): only regular files are served.
 */
export function classifyErrno(code: string | undefined): ErrnoClass {
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ENXIO':
    case 'ENODEV':
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

const STATUS_OF: Readonly<Record<ErrnoClass, number>> = { 'not-found': 404, forbidden: 403, busy: 503, fatal: 500 };

/** HTTP status for a file-system error met before the head was sent. */
export function statusForErrno(code: string | undefined): number {
  return STATUS_OF[classifyErrno(code)];
}

/** A stand-in ENOENT for a lookup that found nothing without an error of its own. */
export function enoent(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
}
