// Errors handed to next(err) by the middleware, shaped as serve-static's
// (http-errors): `status`, `statusCode`, `expose`, optional `headers` that
// Express's final handler and Fastify's error handler put on the response,
// and the class names (`NotFoundError`) that code matches on. Unlike
// serve-static's, their messages never carry a file-system path, so an error
// page that prints `err.message` or `err.stack` reveals nothing of the disk.
import { STATUS_CODES } from 'node:http';

export interface HttpErrorLike extends Error {
  status: number;
  statusCode: number;
  expose: boolean;
  headers?: Record<string, string>;
  code?: string;
}

/** http-errors' class name for a status: 'Range Not Satisfiable' → RangeNotSatisfiableError. */
function className(status: number): string {
  const words = (STATUS_CODES[status] ?? 'Error').replace(/[^ A-Za-z0-9_]/g, '').split(' ');
  const name = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return name.endsWith('Error') ? name : `${name}Error`;
}

const NAMES = new Map<number, string>();

export class HttpError extends Error implements HttpErrorLike {
  readonly status: number;
  readonly statusCode: number;
  readonly expose: boolean;
  headers?: Record<string, string>;
  code?: string;

  constructor(status: number, message?: string, headers?: Record<string, string>) {
    super(message ?? STATUS_CODES[status] ?? String(status));
    let name = NAMES.get(status);
    if (name === undefined) {
      name = className(status);
      NAMES.set(status, name);
    }
    this.name = name;
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
    if (headers !== undefined) this.headers = headers;
  }
}

/**
 * A file-system error as an HTTP error: the code, errno and syscall are
 * kept (so `/ENOENT/` still matches, as with serve-static), the path is not.
 */
export function fromErrno(err: NodeJS.ErrnoException, status: number, headers?: Record<string, string>): HttpError {
  let message = err.message;
  const { path, dest } = err as NodeJS.ErrnoException & { dest?: string };
  if (path) message = message.split(` '${path}'`).join('');
  if (dest) message = message.split(` -> '${dest}'`).join('').split(` '${dest}'`).join('');
  const out = new HttpError(status, message, headers);
  out.name = 'Error';
  if (err.code !== undefined) out.code = err.code;
  if (err.errno !== undefined) (out as HttpError & { errno?: number }).errno = err.errno;
  if (err.syscall !== undefined) (out as HttpError & { syscall?: string }).syscall = err.syscall;
  // Not exposed: the message describes the server, not the request.
  (out as { expose: boolean }).expose = false;
  return out;
}
