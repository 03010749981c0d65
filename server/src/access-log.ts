// Access log lines in the combined format (Apache/nginx), one per response,
// written when the response finishes or its connection closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headText } from './engines/socket';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `25/Nov/2026:22:05:01 +0000` */
export function clfDate(d: Date): string {
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Quotes, backslashes and control bytes escaped as nginx does (\xHH), so a hostile URL or agent cannot forge a log line. */
export function escapeLogField(value: string): string {
  return value.replace(/[\x00-\x1f"\\\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? c : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

const CONTENT_LENGTH_FIELD = /\r\ncontent-length:[ \t]*(\d+)/i;

/** The Content-Length sent: a header, or a field of a head written from a list (the fast head). */
function contentLength(res: ServerResponse): string | number | string[] | undefined {
  const header = res.getHeader('content-length');
  if (header !== undefined) return header;
  const m = CONTENT_LENGTH_FIELD.exec(headText(res) ?? '');
  return m === null ? undefined : m[1];
}

export function formatCombined(req: IncomingMessage, res: ServerResponse, completed: boolean, now: Date): string {
  const length = contentLength(res);
  const bytes = completed && req.method !== 'HEAD' && res.statusCode !== 304 && length !== undefined && Number(length) > 0 ? String(length) : '-';
  const referer = req.headers.referer ?? '-';
  const agent = req.headers['user-agent'] ?? '-';
  const request = `${req.method ?? '-'} ${req.url ?? '-'} HTTP/${req.httpVersion}`;
  const remote = req.socket.remoteAddress ?? '-';
  return `${remote} - - [${clfDate(now)}] "${escapeLogField(request)}" ${res.statusCode} ${bytes} "${escapeLogField(referer)}" "${escapeLogField(agent)}"\n`;
}

/** Logs `res` once, when it finishes (bytes from Content-Length) or is cut off ('-'). */
export function logResponse(req: IncomingMessage, res: ServerResponse, write: (line: string) => void): void {
  let logged = false;
  const log = (completed: boolean): void => {
    if (logged) return;
    logged = true;
    write(formatCombined(req, res, completed, new Date()));
  };
  res.once('finish', () => log(true));
  res.once('close', () => log(res.writableFinished));
}
