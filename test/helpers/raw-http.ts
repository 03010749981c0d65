// A minimal HTTP/1.1 client over a raw socket, for what undici will not do:
// pipelining a batch in one write, and reading responses byte by byte.
import * as net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The status and headers (names lower-cased) of a response head, without its blank line. */
function parseHead(head: Buffer): { status: number; headers: Record<string, string> } {
  const lines = head.toString('latin1').split('\r\n');
  const status = Number(lines[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

/**
 * Reads `count` responses off `socket` (bodies framed by Content-Length;
 * `headOnly[i]` marks responses to HEAD). Rejects if the connection closes
 * early or `timeoutMs` passes.
 */
export function readResponses(socket: net.Socket, count: number, headOnly: boolean[] = [], timeoutMs = 30_000): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const responses: RawResponse[] = [];
    // Bytes not yet assigned to a response, kept as a list so that large
    // bodies are joined once, not once per chunk.
    let pending: Buffer[] = [];
    let pendingLength = 0;
    let current: { status: number; headers: Record<string, string>; length: number } | null = null;
    const timer = setTimeout(() => finish(new Error(`timed out after ${responses.length} of ${count} responses`)), timeoutMs);

    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(responses);
    };
    const take = (n: number): Buffer => {
      const all = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLength);
      const out = Buffer.from(all.subarray(0, n));
      const rest = all.subarray(n);
      pending = rest.length ? [rest] : [];
      pendingLength = rest.length;
      return out;
    };
    const parse = (): void => {
      for (;;) {
        if (!current) {
          const joined = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLength);
          pending = joined.length ? [joined] : [];
          const end = joined.indexOf('\r\n\r\n');
          if (end < 0) return;
          const { status, headers } = parseHead(take(end + 4).subarray(0, end));
          const bodyless = headOnly[responses.length] === true || status === 304 || status === 204;
          current = { status, headers, length: bodyless ? 0 : Number(headers['content-length'] ?? 0) };
        }
        if (pendingLength < current.length) return;
        responses.push({ status: current.status, headers: current.headers, body: take(current.length) });
        current = null;
        if (responses.length === count) return finish(null);
      }
    };
    const onData = (chunk: Buffer): void => {
      pending.push(chunk);
      pendingLength += chunk.length;
      parse();
    };
    const onClose = (): void => finish(new Error(`connection closed after ${responses.length} of ${count} responses`));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

export function requestText(method: string, path: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
