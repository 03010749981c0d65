// Access log lines, one per response, written when the response finishes
// or its connection closes (or, for one the front door sent, when it
// reports it): the combined format (Apache/nginx) or one JSON object per
// line. Behind trusted proxies the client is the one their X-Forwarded-For
// or Forwarded names. Health checks are left out.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deliveryOf, recordDeliveries } from './deliver';
import type { StreamRequest, StreamResponse } from './engines';
import { isCaptureSocket } from './engines/capture';
import type { FrontDoorResponse } from './engines/front-door';
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
  /** The health path, whose answers are not logged (those the front door sends included). */
  health?: string | null;
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

/** The fields of one line. */
interface LineFields {
  remote: string | undefined;
  peer: string | undefined;
  method: string;
  url: string;
  httpVersion: string;
  status: number;
  bytes: number;
  referer: string | undefined;
  agent: string | undefined;
  /** Milliseconds from the request to the line, when known. */
  ms: number | null;
}

function formatLine(f: LineFields, now: Date): string {
  const bytes = f.method !== 'HEAD' && f.status !== 304 && f.bytes > 0 ? String(f.bytes) : '-';
  const request = `${f.method} ${f.url} HTTP/${f.httpVersion}`;
  return `${f.remote ?? '-'} - - [${clfDate(now)}] "${escapeLogField(request)}" ${f.status} ${bytes} "${escapeLogField(f.referer ?? '-')}" "${escapeLogField(f.agent ?? '-')}"\n`;
}

/** One JSON object per line: what the combined format says, numbers as numbers, the time in ISO 8601, and the duration. */
function formatJsonLine(f: LineFields, now: Date): string {
  const line = {
    time: now.toISOString(),
    remote: f.remote ?? null,
    peer: f.peer ?? null,
    method: f.method,
    url: f.url,
    protocol: `HTTP/${f.httpVersion}`,
    status: f.status,
    bytes: f.method !== 'HEAD' && f.status !== 304 ? f.bytes : 0,
    ms: f.ms,
    referer: f.referer ?? null,
    agent: f.agent ?? null,
  };
  return `${JSON.stringify(line)}\n`;
}

function fieldsOf(req: IncomingMessage, res: ServerResponse, logged: LoggedResponse, now: Date): LineFields {
  const { method, url, httpVersion, headers } = req;
  return {
    remote: logged.remote,
    peer: logged.peer ?? logged.remote,
    method: method ?? '-',
    url: url ?? '-',
    httpVersion,
    status: res.statusCode,
    bytes: logged.bytes,
    referer: headers.referer,
    agent: headers['user-agent'],
    ms: logged.startedAt === undefined ? null : now.getTime() - logged.startedAt,
  };
}

export function formatCombined(req: IncomingMessage, res: ServerResponse, logged: LoggedResponse, now: Date): string {
  return formatLine(fieldsOf(req, res, logged, now), now);
}

export function formatJson(req: IncomingMessage, res: ServerResponse, logged: LoggedResponse, now: Date): string {
  return formatJsonLine(fieldsOf(req, res, logged, now), now);
}

function isHealthRequest(method: string, url: string, health: string | null | undefined): boolean {
  if (health === undefined || health === null || (method !== 'GET' && method !== 'HEAD')) return false;
  return url === health || (url.startsWith(health) && url[health.length] === '?');
}

/** The line for a response the front door sent (the server's 'frontDoorResponse' event); '' for a health check. */
export function formatFrontDoorResponse(r: FrontDoorResponse, now: Date, opts: AccessLogOptions = COMBINED): string {
  const { method, url, httpVersion, headers } = r;
  if (isHealthRequest(method, url, opts.health)) return '';
  const remote = opts.trust === null ? r.remoteAddress : opts.trust.clientOf(r.remoteAddress, headers);
  const f = {
    remote,
    peer: r.remoteAddress,
    method,
    url,
    httpVersion,
    status: r.statusCode,
    bytes: r.bodyBytes,
    referer: headers.referer,
    agent: headers['user-agent'],
    ms: r.ms,
  };
  return opts.format === 'json' ? formatJsonLine(f, now) : formatLine(f, now);
}

/**
 * What a log line needs of an HTTP/2 stream answered without Node's
 * compatibility layer (reported as 'frontDoorResponse', since no 'request'
 * event saw it), once the stream has closed.
 */
export function streamReport(req: StreamRequest, res: StreamResponse): FrontDoorResponse {
  const completed = res.writableFinished;
  return {
    remoteAddress: req.remoteAddress,
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    headers: req.headers as Record<string, string>,
    statusCode: res.statusCode,
    bodyBytes: bodyBytes(res as unknown as ServerResponse, completed),
    ms: Date.now() - req.startedAt,
  };
}

/**
 * Logs `res` once, when it finishes or its connection closes; a body still
 * in flight then is logged when its transfer reports what it sent.
 */
export function logResponse(req: IncomingMessage, res: ServerResponse, write: (line: string) => void, opts: AccessLogOptions = COMBINED): void {
  // A request the front door replays through the server: the front door
  // sends the reply and reports it ('frontDoorResponse'), or hands the
  // connection over and Node reads the request again.
  if (isCaptureSocket(req.socket)) return;
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
