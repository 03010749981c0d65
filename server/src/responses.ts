// Responses sluice writes itself (errors, redirects), in send's shapes so
// that clients and tests written against serve-static see the same bytes.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { mergeVary } from './head';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function htmlDocument(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n</head>\n<body>\n<pre>${body}</pre>\n</body>\n</html>\n`;
}

/** Drops every header set so far (a user's setHeaders included). */
function clearHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
}

function writeHtml(res: ServerResponse, status: number, doc: string, headers: Record<string, string> | undefined): void {
  res.statusCode = status;
  // A policy set earlier (an app's own CSP) is kept; else nothing may load.
  if (!res.hasHeader('Content-Security-Policy')) res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Type', 'text/html; charset=UTF-8');
  res.setHeader('Content-Length', Buffer.byteLength(doc));
  if (headers !== undefined) for (const name of Object.keys(headers)) res.setHeader(name, headers[name]);
  res.end(res.req?.method === 'HEAD' ? undefined : doc);
}

/** sluice's error page as a document and its fields (a fetch Response is made of them). */
export function errorDocument(status: number): { doc: string; fields: Record<string, string> } {
  const doc = htmlDocument('Error', escapeHtml(STATUS_CODES[status] ?? String(status)));
  const fields = {
    'Content-Security-Policy': "default-src 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Content-Type': 'text/html; charset=UTF-8',
    'Content-Length': String(Buffer.byteLength(doc)),
  };
  return { doc, fields };
}

/** An error page: status text only, never a path or a stack. */
export function sendError(res: ServerResponse, status: number, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  clearHeaders(res);
  const message = STATUS_CODES[status] ?? String(status);
  writeHtml(res, status, htmlDocument('Error', escapeHtml(message)), headers);
}

/**
 * 301 to the directory's slash form. Headers set earlier are kept, as
 * serve-static keeps them (an app's CSP, CORS or cookies).
 */
export function sendRedirect(res: ServerResponse, location: string, headers?: Record<string, string>): void {
  const doc = htmlDocument('Redirecting', `Redirecting to ${escapeHtml(location)}`);
  writeHtml(res, 301, doc, { ...headers, Location: location });
}

export function sendMethodNotAllowed(res: ServerResponse, allow = 'GET, HEAD', fields: readonly string[] = []): void {
  res.statusCode = 405;
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
  res.setHeader('Allow', allow);
  res.setHeader('Content-Length', '0');
  res.end();
}

export function sendNotModified(res: ServerResponse): void {
  // RFC 9110 §15.4.5: a 304 carries validators and caching headers, no body
  // and no content metadata.
  for (const name of ['content-encoding', 'content-language', 'content-length', 'content-range', 'content-type']) {
    res.removeHeader(name);
  }
  res.statusCode = 304;
  res.end();
}

/** Fields ([name, value, …]) as a header record. */
export function fieldRecord(fields: readonly string[]): Record<string, string> | undefined {
  if (fields.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) out[fields[i]] = fields[i + 1];
  return out;
}

/** A redirect a rule asked for (serve.json `redirects`, clean URLs, trailing slashes): no body. */
export function sendRuleRedirect(res: ServerResponse, status: number, location: string, fields: readonly string[]): void {
  res.statusCode = status;
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
  res.setHeader('Location', location);
  res.setHeader('Content-Length', '0');
  res.end();
}

/** What CORS lets a page read of a response besides the safelisted fields (range requests need these). */
const CORS_EXPOSE = 'Accept-Ranges, Content-Length, Content-Range, ETag, Last-Modified';

/** The fields CORS adds to every response (serve's --cors, plus what range requests need exposed). */
export const CORS_FIELDS: readonly string[] = ['Access-Control-Allow-Origin', '*', 'Access-Control-Expose-Headers', CORS_EXPOSE];

/** The fields for a request from a listed origin (the answer names it; the list puts Vary: Origin on every response). */
export function corsFieldsFor(origin: string): readonly string[] {
  return ['Access-Control-Allow-Origin', origin, 'Access-Control-Expose-Headers', CORS_EXPOSE];
}

const PREFLIGHT_ALLOW_HEADERS = 'Origin, X-Requested-With, Content-Type, Accept, Range, If-None-Match, If-Modified-Since, If-Range';

/** How a preflight is answered: the origin to allow (null: none), the headers to allow (null: those asked for), and whether answers vary by Origin. */
export interface Preflight {
  readonly allowOrigin: string | null;
  readonly allowHeaders: string | null;
  readonly varyOrigin: boolean;
}

const ANY_ORIGIN: Preflight = { allowOrigin: '*', allowHeaders: null, varyOrigin: false };

/**
 * An answer to OPTIONS when CORS is on: a preflight (Access-Control-Request-Method
 * present) from an allowed origin gets what may be asked, anything else the methods allowed.
 */
export function sendOptions(
  res: ServerResponse,
  requestMethod: string | undefined,
  requestHeaders: string | undefined,
  fields: readonly string[] = [],
  preflight: Preflight = ANY_ORIGIN,
): void {
  res.statusCode = 204;
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
  res.setHeader('Allow', 'GET, HEAD, OPTIONS');
  const vary = preflight.varyOrigin ? ['Origin'] : [];
  if (requestMethod !== undefined && preflight.allowOrigin !== null) {
    res.setHeader('Access-Control-Allow-Origin', preflight.allowOrigin);
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', preflight.allowHeaders ?? requestHeaders ?? PREFLIGHT_ALLOW_HEADERS);
    res.setHeader('Access-Control-Max-Age', '86400');
    if (preflight.allowHeaders === null && requestHeaders !== undefined) vary.push('Access-Control-Request-Headers');
  }
  // A Vary among `fields` (-H, say) is kept, joined with these.
  const given = res.getHeader('Vary');
  if (vary.length > 0) res.setHeader('Vary', given === undefined ? vary.join(', ') : mergeVary(String(given), vary.join(', ')));
  res.end();
}

/** A generated page (a listing): HTML or JSON, with the given extra fields. */
export function sendGenerated(res: ServerResponse, body: string, type: 'html' | 'json', fields: readonly string[]): void {
  res.statusCode = 200;
  if (type === 'html') {
    if (!res.hasHeader('Content-Security-Policy')) res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
  } else {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
  }
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-cache');
  // The given fields (CORS, the headers option) win over the defaults above.
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/** serve's error messages and codes, by status. */
const SERVE_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'bad_request', message: 'Bad Request' },
  404: { code: 'not_found', message: 'The requested path could not be found' },
  500: { code: 'internal_server_error', message: 'A server error has occurred' },
};

export function serveErrorOf(status: number): { code: string; message: string } {
  return (
    SERVE_ERRORS[status] ?? { code: (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_'), message: STATUS_CODES[status] ?? 'Error' }
  );
}

const ERROR_STYLE = `body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;background:#fff}
main{display:flex;align-items:center;gap:20px}h1{margin:0;padding-right:20px;border-right:1px solid #ddd;font-size:24px;font-weight:600}p{margin:0}
@media (prefers-color-scheme:dark){body{background:#111;color:#eee}h1{border-color:#333}}`;

/** The error page in serve's flavour: the status and its message. */
export function errorPage(spec: { statusCode: number; message: string }): string {
  const status = escapeHtml(String(spec.statusCode));
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>${status}</title>\n<style>${ERROR_STYLE}</style>\n</head>\n<body>\n<main><h1>${status}</h1><p>${escapeHtml(spec.message)}</p></main>\n</body>\n</html>\n`
  );
}

/** An error in serve's flavour: JSON `{ error: { code, message } }` when asked for, else errorPage(). */
export function sendServeError(res: ServerResponse, status: number, json: boolean, fields: readonly string[]): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  clearHeaders(res);
  const { code, message } = serveErrorOf(status);
  const body = json ? JSON.stringify({ error: { code, message } }) : errorPage({ statusCode: status, message });
  res.statusCode = status;
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
  if (!json && !res.hasHeader('Content-Security-Policy')) res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

const HEALTH_ANSWERS = new WeakSet<ServerResponse>();

/** Whether `res` answered the health path (the access log leaves those out). */
export function isHealthAnswer(res: ServerResponse): boolean {
  return HEALTH_ANSWERS.has(res);
}

/**
 * The health path's answer: `200 ok`, or `503 draining` (closing the
 * connection) once the server is closing. Never stored by a cache.
 */
export function sendHealth(res: ServerResponse, draining: boolean, fields: readonly string[]): void {
  HEALTH_ANSWERS.add(res);
  const body = draining ? 'draining' : 'ok';
  res.statusCode = draining ? 503 : 200;
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (draining) res.setHeader('Connection', 'close');
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}
