// Access log lines, one per response, written when the response finishes
// or its connection closes: the combined format (Apache/nginx) or one JSON
// object per line. Behind trusted proxies the client is the one their
// X-Forwarded-For or Forwarded names.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deliveryOf, recordDeliveries } from './respond';
import { isHealthAnswer } from './responses';
import type { ProxyTrust } from './trust-proxy';

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
  // eslint-disable-next-line no-control-regex -- control bytes are exactly what must be escaped
  return value.replace(/[\x00-\x1f"\\\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? c : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** What a line says of one response, gathered when the request starts and when it ends. */
export interface LoggedResponse {
  /** The client's address, taken when the request arrived (a cut-off connection has none later). */
  remote: string | undefined;
  /** Body bytes sent; '-' for none. */
  bytes: number;
  /** The connection's own peer, when proxies were trusted (JSON lines show both). */
  peer?: string | undefined;
  /** When the request arrived (ms since the epoch). */
  startedAt?: number;
}

export type LogFormat = 'combined' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['combined', 'json'];

export interface AccessLogOptions {
  format: LogFormat;
  /** Peers whose forwarding headers are believed; null: the connection's peer is the client. */
  trust: ProxyTrust | null;
}

const COMBINED: AccessLogOptions = { format: 'combined', trust: null };

/**
 * Body bytes sent (nginx's $body_bytes_sent): what the engine reported for
 * a file body, cut off or not; for responses sluice wrote itself (errors,
 * redirects), their Content-Length once they finished.
 */
function bodyBytes(res: ServerResponse, completed: boolean): number {
  const delivery = deliveryOf(res);
  if (delivery !== undefined) return delivery.bodyBytes;
  const length = res.getHeader('content-length');
  return completed && length !== undefined ? Number(length) || 0 : 0;
}

export function formatCombined(req: IncomingMessage, res: ServerResponse, logged: LoggedResponse, now: Date): string {
  const bytes = req.method !== 'HEAD' && res.statusCode !== 304 && logged.bytes > 0 ? String(logged.bytes) : '-';
  const referer = req.headers.referer ?? '-';
  const agent = req.headers['user-agent'] ?? '-';
  const request = `${req.method ?? '-'} ${req.url ?? '-'} HTTP/${req.httpVersion}`;
  const remote = logged.remote ?? '-';
  return `${remote} - - [${clfDate(now)}] "${escapeLogField(request)}" ${res.statusCode} ${bytes} "${escapeLogField(referer)}" "${escapeLogField(agent)}"\n`;
}

/** One JSON object per line: what the combined format says, with numbers as numbers, the time in ISO 8601 and the duration. */
export function formatJson(req: IncomingMessage, res: ServerResponse, logged: LoggedResponse, now: Date): string {
  const sent = req.method !== 'HEAD' && res.statusCode !== 304 ? logged.bytes : 0;
  const line = {
    time: now.toISOString(),
    remote: logged.remote ?? null,
    peer: logged.peer ?? logged.remote ?? null,
    method: req.method ?? null,
    url: req.url ?? null,
    protocol: `HTTP/${req.httpVersion}`,
    status: res.statusCode,
    bytes: sent,
    ms: logged.startedAt === undefined ? null : now.getTime() - logged.startedAt,
    referer: req.headers.referer ?? null,
    agent: req.headers['user-agent'] ?? null,
  };
  return `${JSON.stringify(line)}\n`;
}

/**
 * Logs `res` once, when it finishes or its connection closes; a body still
 * in flight then is logged when its transfer reports what it sent.
 */
export function logResponse(req: IncomingMessage, res: ServerResponse, write: (line: string) => void, opts: AccessLogOptions = COMBINED): void {
  recordDeliveries();
  const peer = req.socket.remoteAddress;
  const remote = opts.trust === null ? peer : opts.trust.clientOf(peer, req.headers);
  const startedAt = Date.now();
  const format = opts.format === 'json' ? formatJson : formatCombined;
  let logged = false;
  const log = (completed: boolean): void => {
    if (logged) return;
    logged = true;
    // A health check every few seconds would drown the lines that matter.
    if (isHealthAnswer(res)) return;
    const line = (): void => write(format(req, res, { remote, peer, startedAt, bytes: bodyBytes(res, completed) }, new Date()));
    const delivery = deliveryOf(res);
    if (delivery === undefined) line();
    else delivery.whenSettled(line);
  };
  res.once('finish', () => log(true));
  res.once('close', () => log(res.writableFinished));
}
