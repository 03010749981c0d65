// One request, start to finish: resolve → open → conditionals → range →
// headers → engine. HTTP logic decides what to send and describes the body;
// the engine only moves its bytes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileBody, type Body } from './body';
import { evaluatePreconditions, isRangeFresh, type Validators } from './conditional';
import type { Engine } from './engines';
import { classifyErrno, statusForErrno } from './errors';
import { openFile, type OpenFile } from './file-table';
import { cacheControlValue, contentRange, contentTypeFor, httpDate, weakEtag } from './headers';
import { multipartBody } from './multipart';
import type { ResolvedOptions } from './options';
import { parseRange } from './range';
import { redirectLocation, resolvePath } from './resolve';
import { sendError, sendMethodNotAllowed, sendNotModified, sendRedirect } from './responses';

/** Connect-style continuation: absent for the standalone server. */
export type Next = (err?: unknown) => void;

export type Respond = (req: IncomingMessage, res: ServerResponse, next?: Next) => void;

/** An HTTP error handed to next() (serve-static's shape: status and statusCode). */
function httpError(status: number, message: string): Error & { status: number; statusCode: number; expose: boolean } {
  return Object.assign(new Error(message), { status, statusCode: status, expose: status < 500 });
}

export function createResponder(root: string, opts: ResolvedOptions, engine: Engine): Respond {
  /** A failure before any byte was sent: an error page, or next(). */
  const fail = (res: ServerResponse, next: Next | undefined, status: number, message: string, headers?: Record<string, string>): void => {
    if (next) {
      // serve-static: with fallthrough, client errors pass on to the next
      // handler; server errors (and everything without fallthrough) go to
      // next(err).
      if (opts.fallthrough && status < 500) next();
      else next(httpError(status, message));
      return;
    }
    sendError(res, status, headers);
  };

  const failWithErrno = (res: ServerResponse, next: Next | undefined, err: NodeJS.ErrnoException): void => {
    const status = statusForErrno(err.code);
    const headers: Record<string, string> = classifyErrno(err.code) === 'busy' ? { 'Retry-After': '1' } : {};
    fail(res, next, status, status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Internal Server Error', headers);
  };

  /** Opens `candidates` in order; the first that exists wins. */
  const openFirst = (candidates: string[], cb: (err: NodeJS.ErrnoException | null, file?: OpenFile) => void): void => {
    const tryAt = (i: number, lastErr: NodeJS.ErrnoException | null): void => {
      const candidate = candidates[i];
      if (candidate === undefined) return cb(lastErr);
      openFile(candidate, (err, file) => {
        if (!err) return cb(null, file);
        if (classifyErrno(err.code) === 'not-found') return tryAt(i + 1, err);
        cb(err);
      });
    };
    tryAt(0, null);
  };

  const respond: Respond = (req, res, next) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      if (next && opts.fallthrough) return next();
      return sendMethodNotAllowed(res);
    }
    const url = req.url ?? '/';
    const resolution = resolvePath(root, url, { dotfiles: opts.dotfiles });
    if (resolution.kind === 'error') return fail(res, next, resolution.status, resolution.reason);

    const target = resolution.path;
    if (resolution.trailingSlash) return serveIndex(req, res, next, target);

    const candidates = [target];
    if (opts.extensions.length && !path.extname(target)) {
      for (const ext of opts.extensions) candidates.push(`${target}.${ext}`);
    }
    openFirst(candidates, (err, file) => {
      if (err || !file) return failWithErrno(res, next, err ?? enoent());
      if (file.stat.isDirectory()) {
        file.release();
        if (!opts.redirect) return fail(res, next, 404, 'Not Found');
        return sendRedirect(res, redirectLocation(url));
      }
      serveFile(req, res, next, file);
    });
  };

  const serveIndex = (req: IncomingMessage, res: ServerResponse, next: Next | undefined, dir: string): void => {
    if (opts.index.length === 0) return fail(res, next, 404, 'Not Found');
    openFirst(opts.index.map((name) => path.join(dir, name)), (err, file) => {
      if (err || !file) return failWithErrno(res, next, err ?? enoent());
      if (file.stat.isDirectory()) {
        file.release();
        return fail(res, next, 404, 'Not Found');
      }
      serveFile(req, res, next, file);
    });
  };

  const serveFile = (req: IncomingMessage, res: ServerResponse, next: Next | undefined, file: OpenFile): void => {
    const { stat } = file;
    if (!stat.isFile()) {
      file.release();
      return fail(res, next, 404, 'Not Found');
    }
    if (res.headersSent) {
      // Someone else answered meanwhile (middleware chains can): not ours.
      file.release();
      return;
    }
    opts.setHeaders?.(res, file.path, stat);
    const size = stat.size;
    const validators: Validators = {};
    if (opts.acceptRanges && !res.hasHeader('Accept-Ranges')) res.setHeader('Accept-Ranges', 'bytes');
    if (opts.cacheControl && !res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', cacheControlValue(opts.maxAge, opts.immutable));
    if (opts.lastModified && !res.hasHeader('Last-Modified')) res.setHeader('Last-Modified', httpDate(stat.mtimeMs));
    if (opts.etag && !res.hasHeader('ETag')) res.setHeader('ETag', weakEtag(stat));
    const type = (res.getHeader('Content-Type') as string | undefined) ?? contentTypeFor(file.path);
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', type);
    const etag = res.getHeader('ETag');
    const lastModified = res.getHeader('Last-Modified');
    if (typeof etag === 'string') validators.etag = etag;
    if (typeof lastModified === 'string') validators.lastModified = Date.parse(lastModified);

    switch (evaluatePreconditions(req.method ?? 'GET', req.headers, validators)) {
      case 'precondition-failed':
        file.release();
        return fail(res, next, 412, 'Precondition Failed');
      case 'not-modified':
        file.release();
        return sendNotModified(res);
      default:
        break;
    }

    let body: Body = fileBody(file.fd, 0, size);
    res.statusCode = 200;
    if (opts.acceptRanges && req.headers.range !== undefined) {
      const range = parseRange(req.headers.range, size, { maxRanges: opts.maxRanges });
      const ifRange = req.headers['if-range'];
      const honoured = range.kind !== 'none' && isRangeFresh(Array.isArray(ifRange) ? ifRange[0] : ifRange, validators);
      if (honoured && range.kind === 'unsatisfiable') {
        file.release();
        return fail(res, next, 416, 'Range Not Satisfiable', { 'Content-Range': `bytes */${size}` });
      }
      if (honoured && range.kind === 'ranges') {
        res.statusCode = 206;
        const [first] = range.ranges;
        if (range.ranges.length === 1 && first) {
          res.setHeader('Content-Range', contentRange(first.start, first.end, size));
          body = fileBody(file.fd, first.start, first.end - first.start + 1);
        } else {
          const multipart = multipartBody(file.fd, range.ranges, size, type);
          res.setHeader('Content-Type', multipart.contentType);
          body = multipart.body;
        }
      }
    }
    res.setHeader('Content-Length', body.length);

    if (req.method === 'HEAD' || body.length === 0) {
      file.release();
      res.end();
      return;
    }
    engine.send(req, res, body, (err) => {
      // The file is shorter than its stat: never serve that version again.
      if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_SLUICE_TRUNCATED') file.invalidate();
      file.release();
      if (err) {
        // Head and possibly body bytes are out: the only honest end is to
        // close the connection, never to end a short body.
        res.destroy();
        return;
      }
      res.end();
    });
  };

  return respond;
}

function enoent(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
}
