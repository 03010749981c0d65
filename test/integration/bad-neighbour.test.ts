// A malformed request, or bytes after a request that closes the connection,
// never erase the valid requests before it on the same connection: those are
// answered in full and in order, then the 400 (none after `Connection:
// close` or HTTP/1.0, whose response already ends the connection), then the
// connection closes. On every engine, for cold and cached files.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { connect, requestText } from '../helpers/raw-http';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Everything the server sends until it closes the connection. */
function untilClosed(socket: net.Socket, ms = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`not closed after ${ms} ms`)), ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** The responses in `bytes` (bodies framed by Content-Length). */
function split(bytes: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at);
    assert.ok(end >= 0, `a partial head: ${JSON.stringify(bytes.subarray(at).toString('latin1').slice(0, 200))}`);
    const lines = bytes.subarray(at, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = bytes.subarray(end + 4, end + 4 + length);
    assert.equal(body.length, length, 'a short body');
    out.push({ status: Number(lines[0]?.split(' ')[1]), headers, body });
    at = end + 4 + length;
  }
  return out;
}

const MALFORMED = 'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n';

forEachEngine('a bad neighbour request', (engine) => {
  const root = scratchDir();
  const big = randomBytes(4 * 1024 * 1024 + 5);
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  fs.writeFileSync(path.join(root, 'warm.txt'), 'warm\n');
  // Sparse: larger than every socket buffer, so its send is in flight for as long as the client does not read.
  fs.writeFileSync(path.join(root, 'huge.bin'), '');
  fs.truncateSync(path.join(root, 'huge.bin'), 64 * 1024 * 1024);
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(root, `cold-${i}.txt`), `cold ${i}\n`);
  let server: TestServer;
  before(async () => {
    server = await startServer(root, { engine });
  });
  after(() => server.close());

  async function exchange(bytes: string): Promise<Parsed[]> {
    const socket = await connect(server.port);
    const all = untilClosed(socket);
    socket.write(bytes);
    return split(await all);
  }

  it('should answer a valid request for a cold file before the 400 for a malformed one in the same packet', async () => {
    const responses = await exchange(requestText('GET', '/cold-0.txt') + MALFORMED);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 400],
    );
    assert.equal(responses[0]?.body.toString(), 'cold 0\n');
  });

  it('should answer a cached file, a large body and a 404 in order before the 400', async () => {
    await exchange(requestText('GET', '/warm.txt', { connection: 'close' }));
    const responses = await exchange(requestText('GET', '/warm.txt') + requestText('GET', '/big.bin') + requestText('GET', '/missing') + MALFORMED);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 404, 400],
    );
    assert.equal(responses[0]?.body.toString(), 'warm\n');
    assert.equal(sha256(responses[1]?.body ?? Buffer.alloc(0)), sha256(big));
  });

  it('should answer a Connection: close request and close, ignoring the bytes after it', async () => {
    const responses = await exchange(requestText('GET', '/cold-1.txt', { connection: 'close' }) + 'garbage\r\n\r\n');
    assert.deepEqual(
      responses.map((r) => r.status),
      [200],
    );
    assert.equal(responses[0]?.body.toString(), 'cold 1\n');
  });

  it('should answer an HTTP/1.0 request and close, ignoring a request after it', async () => {
    const responses = await exchange('GET /cold-2.txt HTTP/1.0\r\n\r\n' + requestText('GET', '/cold-3.txt'));
    assert.deepEqual(
      responses.map((r) => r.status),
      [200],
    );
    assert.equal(responses[0]?.body.toString(), 'cold 2\n');
  });

  it('should still answer a malformed request alone with 400 and close', async () => {
    const responses = await exchange(MALFORMED);
    assert.deepEqual(
      responses.map((r) => r.status),
      [400],
    );
  });

  it('should answer the valid requests when the malformed one comes later, while a body is in flight', async () => {
    const socket = await connect(server.port);
    const all = untilClosed(socket);
    socket.pause();
    socket.write(requestText('GET', '/huge.bin') + requestText('GET', '/cold-4.txt'));
    await new Promise((r) => setTimeout(r, 100));
    socket.write(MALFORMED);
    await new Promise((r) => setTimeout(r, 100));
    socket.resume();
    const responses = split(await all);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 400],
    );
    assert.equal(responses[0]?.body.length, 64 * 1024 * 1024);
    assert.equal(responses[1]?.body.toString(), 'cold 4\n');
  });
});
