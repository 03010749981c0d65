// Responses sluice writes itself (errors, redirects), in send's shapes so
// that clients and tests written against serve-static see the same bytes.
import { STATUS_CODES, type ServerResponse } from 'node:http';

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
export function sendRedirect(res: ServerResponse, location: string): void {
  const doc = htmlDocument('Redirecting', `Redirecting to ${escapeHtml(location)}`);
  writeHtml(res, 301, doc, { Location: location });
}

export function sendMethodNotAllowed(res: ServerResponse): void {
  res.statusCode = 405;
  res.setHeader('Allow', 'GET, HEAD');
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
