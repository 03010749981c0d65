// The fallback proxy: a request sluice has no file for (a 404 before any
// file was found, or a method other than GET and HEAD) is forwarded to one
// upstream origin, with both bodies streamed, hop-by-hop fields dropped and
// X-Forwarded-For/-Proto/-Host added. WebSocket (and any other) upgrades go
// to the upstream over a raw connection of their own. The upstream's
// failures become 502 (it refused or broke off) or 504 (it took too long),
// each with the reason in the body.
//
// A request replayed by the front door (on its CaptureSocket) is never
// forwarded there: the replay is dropped, so its connection goes to Node,
// which reads the request again and forwards it on the real socket. A
// proxied response is therefore never recorded, and never kept as a front
// door reply.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import * as tls from 'node:tls';
import type { Pool } from 'undici';
import { trackDelivery } from './deliver';
import { isCaptureSocket } from './engines/capture';
import type { ProxyOption } from './options';

export const DEFAULT_PROXY_TIMEOUT = 30_000;

/** Fields about one connection, never forwarded (RFC 9110 7.6.1), and Expect, which the client's hop answers. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
]);

function invalid(message: string): TypeError {
  const err = new TypeError(message);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** An http: or https: URL, or why not. */
export function proxyTarget(value: string | URL): URL | string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    return `'${String(value)}' is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `'${String(value)}' is not an http: or https: URL`;
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    return `'${String(value)}' has a query, fragment or credentials (expected http://host:port/prefix)`;
  return url;
}

/** The proxy option checked: its target URL and timeout, or null without one. */
export function resolveProxy(value: unknown): { target: URL; timeout: number; upgrades: boolean } | null {
  if (value === undefined || value === null || value === false) return null;
  const spec = typeof value === 'string' || value instanceof URL ? { target: value } : (value as ProxyOption);
  if (typeof spec !== 'object' || (typeof spec.target !== 'string' && !(spec.target instanceof URL))) {
    throw invalid(`The "proxy" option must be a URL or { target, timeout }. Received ${String(value)}`);
  }
  const target = proxyTarget(spec.target);
  if (typeof target === 'string') throw invalid(`The "proxy" option: ${target}`);
  const timeout = spec.timeout ?? DEFAULT_PROXY_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 1) {
    throw invalid(`The "proxy.timeout" option must be a positive integer (ms). Received ${String(timeout)}`);
  }
  return { target, timeout, upgrades: spec.upgrades !== false };
}

/** The names a Connection field lists (those fields are hop-by-hop too). */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** `headers` without hop-by-hop fields (and those `connection` names). */
function endToEnd(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

/** What the upstream is told about the client: For appended to, Proto and Host set. */
function forwardedFields(req: IncomingMessage): Record<string, string> {
  const prior = req.headers['x-forwarded-for'];
  const client = req.socket.remoteAddress ?? '';
  const fields: Record<string, string> = {
    'x-forwarded-for': prior === undefined || prior === '' ? client : `${String(prior)}, ${client}`,
    'x-forwarded-proto': isEncrypted(req) ? 'https' : 'http',
  };
  if (req.headers.host !== undefined) fields['x-forwarded-host'] = req.headers.host;
  return fields;
}

/** The upstream's path for this request: the target's prefix, then the request's own target. */
function upstreamPath(target: URL, url: string | undefined): string {
  const prefix = target.pathname.replace(/\/+$/, '');
  const own = url === undefined || url === '' ? '/' : url.startsWith('/') ? url : `/${url}`;
  return prefix + own;
}

/** Why the upstream failed, as the status and line the client gets. */
export function upstreamFailure(err: unknown): { status: 502 | 504; reason: string } {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') {
    return { status: 504, reason: `the upstream did not answer in time (${code})` };
  }
  if (code === 'ECONNREFUSED') return { status: 502, reason: 'the upstream refused the connection (ECONNREFUSED)' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { status: 502, reason: `the upstream's host name did not resolve (${code})` };
  return { status: 502, reason: `the upstream failed (${code || (err as Error | undefined)?.message || 'unknown error'})` };
}

/** A text answer from the proxy itself (502, 504). */
function sendFailure(res: ServerResponse, status: number, reason: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}: ${reason}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Whether the request carries a body to stream upstream. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Forwards requests to one upstream origin (see the module comment). */
export class FallbackProxy {
  private readonly pool: Pool;

  constructor(
    readonly target: URL,
    readonly timeout: number,
    /** Whether the server's upgrades are forwarded. */
    readonly upgrades = true,
  ) {
    // undici loads with the first proxy: a server without one never pays its memory.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Pool: UpstreamPool } = require('undici') as typeof import('undici');
    this.pool = new UpstreamPool(target.origin, { headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout });
  }

  /** Forwards one request and streams the upstream's answer back. */
  readonly forward = (req: IncomingMessage, res: ServerResponse): void => {
    // A front door replay: let its connection go to Node, which forwards it itself.
    if (isCaptureSocket(req.socket)) return void res.destroy();
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const headers = { ...endToEnd(req.headers), ...forwardedFields(req) };
    this.pool
      .request({
        path: upstreamPath(this.target, req.url),
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body: hasBody(req) ? req : undefined,
        signal: abort.signal,
      })
      .then(
        (upstream) => {
          if (res.destroyed) return void upstream.body.destroy();
          res.writeHead(upstream.statusCode, endToEnd(upstream.headers) as OutgoingHttpHeaders);
          // The access log's body bytes: what went through, cut off or not.
          const delivery = trackDelivery(res);
          let sent = 0;
          if (delivery !== null) upstream.body.on('data', (chunk: Buffer) => void (sent += chunk.length));
          pipeline(upstream.body, res, (err) => {
            delivery?.settle(sent, 'proxy');
            if (err) res.destroy();
          });
        },
        (err: unknown) => {
          if (res.destroyed) return;
          const failure = upstreamFailure(err);
          sendFailure(res, failure.status, failure.reason);
        },
      );
  };

  /** An upgrade (WebSocket): the request head sent on a connection of its own, then bytes both ways untouched. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const port = Number(this.target.port || (this.target.protocol === 'https:' ? 443 : 80));
    const host = this.target.hostname.replace(/^\[|\]$/g, '');
    const upstream: net.Socket =
      this.target.protocol === 'https:' ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
    let answered = false;
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })), this.timeout);
    upstream.once(this.target.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      upstream.write(upgradeHead(req, this.target));
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.once('data', () => {
      answered = true;
      clearTimeout(timer);
    });
    upstream.on('error', (err) => {
      clearTimeout(timer);
      if (!answered && socket.writable) {
        const failure = upstreamFailure(err);
        const body = `${failure.reason}\n`;
        const line = failure.status === 504 ? '504 Gateway Timeout' : '502 Bad Gateway';
        socket.end(
          `HTTP/1.1 ${line}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      } else {
        socket.destroy();
      }
    });
    socket.on('error', () => upstream.destroy());
    socket.once('close', () => upstream.destroy());
    upstream.once('close', () => {
      clearTimeout(timer);
      if (answered) socket.destroy();
    });
  };

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The upgrade request as the upstream gets it: Host its own, Connection and Upgrade kept, X-Forwarded-* added. */
function upgradeHead(req: IncomingMessage, target: URL): string {
  const lines = [`${req.method ?? 'GET'} ${upstreamPath(target, req.url)} HTTP/1.1`, `Host: ${target.host}`];
  const forwarded = forwardedFields(req);
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'host' || name in forwarded || name === 'proxy-authorization' || name === 'proxy-connection' || name === 'keep-alive') continue;
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  for (const [name, value] of Object.entries(forwarded)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Puts `proxy` behind a server: its upgrades forwarded, its pool closed with it. */
export function attachProxy(
  server: { on(event: 'upgrade', l: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown; once(event: 'close', l: () => void): unknown },
  proxy: FallbackProxy,
): void {
  if (proxy.upgrades) server.on('upgrade', proxy.upgrade);
  server.once('close', () => void proxy.close());
}
