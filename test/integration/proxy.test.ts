// The fallback proxy (`proxy` option) end to end against a local upstream:
// misses and other methods forwarded with both bodies streamed, hop-by-hop
// fields dropped, X-Forwarded-* added, WebSocket upgrades piped raw,
// upstream failures as 502 and timeouts as 504; with the front door on and
// off, and never a proxied answer kept as a front door reply.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { createHandler, createSecureServer, createServer, serveStatic, type SluiceServer } from '../../server/src/index';
import { frontDoorUnavailableReason } from '../../server/src/engines/front-door';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { testCert } from '../helpers/tls';

interface Upstream {
  server: http.Server;
  port: number;
  /** Every request the upstream saw: method, url, headers. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** Release the response of GET /slow-body's second half. */
  release: () => void;
}

/** The upstream's answers, one per path. */
function upstreamHandler(seen: Upstream['seen'], gate: { release: () => void; wait: Promise<void> }): http.RequestListener {
  let counter = 0;
  return (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = req.url ?? '';
    if (url.startsWith('/count')) {
      counter++;
      const body = String(counter);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'max-age=3600', 'Content-Length': body.length });
      return res.end(body);
    }
    if (url === '/echo') {
      const hash = createHash('sha256');
      let length = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        length += c.length;
      });
      return req.on('end', () => res.end(JSON.stringify({ length, sha: hash.digest('hex'), method: req.method })));
    }
    if (url === '/slow-body') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first;');
      return void gate.wait.then(() => res.end('second'));
    }
    if (url === '/slow-head') return void setTimeout(() => res.end('late'), 2000).unref();
    if (url === '/private') {
      res.writeHead(201, {
        Connection: 'X-Up-Private',
        'X-Up-Private': 'secret',
        'Keep-Alive': 'timeout=5',
        'X-Up-Public': 'yes',
        'Set-Cookie': ['a=1', 'b=2'],
      });
      return res.end('created');
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end(`upstream has no ${url}`);
  };
}

/** Echoes what follows a hand-written WebSocket handshake (no framing: the bytes are what is checked). */
function answerUpgrades(server: http.Server, seen: Upstream['seen']): void {
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (req.url === '/ws-refused') return void socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
}

async function startUpstream(): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  let release = (): void => {};
  const wait = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer(upstreamHandler(seen, { release, wait }));
  answerUpgrades(server, seen);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen, release: () => release() };
}

function makeSite(): string {
  const root = path.join(scratchDir(), 'proxied-site');
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<p>home</p>\n');
  fs.writeFileSync(path.join(root, 'local.txt'), 'local file\n');
  fs.writeFileSync(path.join(root, '404.html'), '<p>local 404 page</p>\n');
  return root;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function text(url: string, init: Parameters<typeof request>[1] = {}) {
  const res = await request(url, init);
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** A raw upgrade request; resolves with what came back once `until` matches it. */
function upgradeExchange(port: number, pathname: string, after: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no match for ${until} in ${JSON.stringify(got)}`));
    }, 5000);
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n') && after !== '' && got.startsWith('HTTP/1.1 101')) {
        socket.write(after);
        after = '';
      }
      if (until.test(got)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('error', reject);
    socket.write(
      `GET ${pathname} HTTP/1.1\r\nHost: site.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
  });
}

const DOOR = frontDoorUnavailableReason() === '';

for (const frontDoor of [false, true]) {
  describe(`proxy option (front door ${frontDoor ? 'on' : 'off'})`, function () {
    this.timeout(20_000);
    let upstream: Upstream;
    let server: SluiceServer;
    let base: string;

    before(async function () {
      if (frontDoor && !DOOR) this.skip();
      upstream = await startUpstream();
      server = createServer(makeSite(), { proxy: { target: `http://127.0.0.1:${upstream.port}`, timeout: 500 }, notFound: '404.html', frontDoor });
      base = await listen(server);
      assert.equal(server.sluice.frontDoor?.active() ?? false, frontDoor);
    });
    after(async () => {
      upstream?.release();
      if (server) await closeServer(server);
      if (upstream) await closeServer(upstream.server);
    });

    it('should serve a file that exists without asking the upstream', async () => {
      const before = upstream.seen.length;
      const res = await text(`${base}/local.txt`);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'local file\n');
      assert.equal(upstream.seen.length, before);
    });

    it('should forward a miss to the upstream (not the 404 page), with X-Forwarded-For/-Proto/-Host', async () => {
      const res = await text(`${base}/nothing/here?q=1`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(res.status, 404);
      assert.equal(res.body, 'upstream has no /nothing/here?q=1');
      const seen = upstream.seen[upstream.seen.length - 1];
      assert.equal(seen.url, '/nothing/here?q=1');
      assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], new URL(base).host);
      assert.equal(seen.headers.host, `127.0.0.1:${upstream.port}`);
    });

    it('should drop hop-by-hop fields both ways, those Connection names included', async () => {
      const socket = await connect(Number(new URL(base).port));
      socket.write(
        'GET /private HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Client-Private\r\nX-Client-Private: secret\r\n' +
          'Proxy-Authorization: Basic eDp5\r\nTE: trailers\r\nX-Client-Public: yes\r\n\r\n',
      );
      const [raw] = await readResponses(socket, 1);
      socket.destroy();
      assert.equal(raw.status, 201);
      assert.equal(raw.headers['x-up-private'], undefined);
      assert.equal(raw.headers['keep-alive'], 'timeout=5'); // sluice's own, for its connection
      const res = await text(`${base}/private`);
      assert.equal(res.body, 'created');
      const seen = upstream.seen[upstream.seen.length - 2].headers;
      assert.equal(seen['x-client-private'], undefined);
      assert.equal(seen['proxy-authorization'], undefined);
      assert.equal(seen.te, undefined);
      assert.equal(seen['x-client-public'], 'yes');
      assert.equal(res.headers['x-up-private'], undefined);
      assert.equal(res.headers['x-up-public'], 'yes');
      assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    });

    it('should stream a request body of 3 MiB to the upstream (POST, chunked)', async () => {
      const body = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
      async function* chunks() {
        for (let i = 0; i < body.length; i += 65536) yield body.subarray(i, i + 65536);
      }
      const res = await text(`${base}/echo`, { method: 'POST', body: Readable.from(chunks()) });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { length: body.length, sha: sha256(body), method: 'POST' });
    });

    it('should forward PUT to a path that has a file (sluice answers only GET and HEAD)', async () => {
      const res = await text(`${base}/echo`, { method: 'PUT', body: 'abc' });
      assert.equal(JSON.parse(res.body).method, 'PUT');
    });

    // A fresh connection: its first request is the one the front door replays.
    it("should stream the upstream's body on a fresh connection: its first bytes arrive before it ends", async () => {
      const socket = await connect(Number(new URL(base).port));
      let got = '';
      const seenFirst = new Promise<void>((resolve) =>
        socket.on('data', (c: Buffer) => {
          got += c.toString('latin1');
          if (got.includes('first;')) resolve();
        }),
      );
      const asked = (): number => upstream.seen.filter((r) => r.url === '/slow-body').length;
      const before = asked();
      socket.write(requestText('GET', '/slow-body'));
      await seenFirst;
      assert.ok(!got.includes('second'));
      // Forwarded once: never first into a front door replay, then again.
      assert.equal(asked() - before, 1);
      upstream.release();
      await new Promise<void>((resolve) => socket.on('data', () => got.includes('second') && resolve()));
      socket.destroy();
    });

    it('should answer 504 with the reason when the upstream sends no head in time', async () => {
      const res = await text(`${base}/slow-head`);
      assert.equal(res.status, 504);
      assert.match(res.body, /^Gateway Timeout: the upstream did not answer in time \(UND_ERR_HEADERS_TIMEOUT\)/);
    });

    it('should never keep a proxied answer: each request reaches the upstream', async () => {
      const port = Number(new URL(base).port);
      const got: string[] = [];
      // Fresh connections (each first request is the front door's) and then one kept alive.
      for (let i = 0; i < 4; i++) {
        const socket = await connect(port);
        for (let j = 0; j < (i === 3 ? 3 : 1); j++) {
          socket.write(requestText('GET', '/count'));
          const [r] = await readResponses(socket, 1);
          assert.equal(r.status, 200);
          got.push(r.body.toString());
        }
        socket.destroy();
      }
      assert.deepEqual(
        got.map((n) => Number(n) - Number(got[0])),
        [0, 1, 2, 3, 4, 5],
      );
    });

    it('should pipe a WebSocket upgrade to the upstream, bytes both ways', async () => {
      const got = await upgradeExchange(Number(new URL(base).port), '/ws/chat', 'ping-frame-bytes', /ping-frame-bytes$/);
      assert.match(got, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      const seen = upstream.seen[upstream.seen.length - 1];
      assert.equal(seen.url, '/ws/chat');
      assert.equal(seen.headers.upgrade, 'websocket');
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen.headers.host, `127.0.0.1:${upstream.port}`);
    });

    it("should pass the upstream's refusal of an upgrade through", async () => {
      const got = await upgradeExchange(Number(new URL(base).port), '/ws-refused', '', /\r\n\r\nno$/);
      assert.match(got, /^HTTP\/1\.1 403 Forbidden/);
    });
  });
}

describe('proxy option: an upstream that is down', function () {
  this.timeout(10_000);
  let server: SluiceServer;
  let base: string;
  let deadPort: number;
  before(async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    server = createServer(makeSite(), { proxy: `http://127.0.0.1:${deadPort}` });
    base = await listen(server);
  });
  after(() => closeServer(server));

  it('should answer a miss with 502 naming ECONNREFUSED', async () => {
    const res = await text(`${base}/api/x`);
    assert.equal(res.status, 502);
    assert.equal(res.body, 'Bad Gateway: the upstream refused the connection (ECONNREFUSED)\n');
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('should answer an upgrade with 502', async () => {
    const got = await upgradeExchange(Number(new URL(base).port), '/ws', '', /ECONNREFUSED\)\n$/);
    assert.match(got, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  });
});

describe('proxy option: createHandler, a path prefix, and refusals', function () {
  this.timeout(10_000);
  let upstream: Upstream;
  before(async () => {
    upstream = await startUpstream();
  });
  after(() => closeServer(upstream.server));

  it("should prefix the target's path in createHandler", async () => {
    const handler = createHandler(makeSite(), { proxy: `http://127.0.0.1:${upstream.port}/count/` });
    const server = http.createServer(handler);
    const base = await listen(server);
    try {
      const res = await text(`${base}/x`);
      assert.equal(res.status, 200);
      assert.equal(upstream.seen[upstream.seen.length - 1].url, '/count/x');
    } finally {
      await closeServer(server);
    }
  });

  it('should refuse a target that is not an http(s) URL, single with proxy, and proxy in serveStatic', () => {
    assert.throws(() => createServer('.', { proxy: 'ftp://x' }), { code: 'ERR_INVALID_ARG_VALUE', message: /not an http: or https: URL/ });
    assert.throws(() => createServer('.', { proxy: 'nope' }), { code: 'ERR_INVALID_ARG_VALUE', message: /not a URL/ });
    assert.throws(() => createServer('.', { proxy: { target: 'http://a', timeout: 0 } }), { code: 'ERR_INVALID_ARG_VALUE', message: /proxy\.timeout/ });
    assert.throws(() => createServer('.', { proxy: 'http://a', single: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /exclude each other/ });
    assert.throws(() => serveStatic('.', { proxy: 'http://a' }), { code: 'ERR_INVALID_ARG_VALUE', message: /next\(\)/ });
  });
});

describe('proxy option: createSecureServer', function () {
  this.timeout(10_000);
  it('should forward a miss over HTTPS with X-Forwarded-Proto: https', async function () {
    const { cert } = testCert();
    if (cert === null) return this.skip();
    const upstream = await startUpstream();
    const server = createSecureServer(makeSite(), { tls: cert, proxy: `http://127.0.0.1:${upstream.port}` });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const res = await text(`https://127.0.0.1:${(server.address() as AddressInfo).port}/secure-miss`, { dispatcher: agent });
      assert.equal(res.body, 'upstream has no /secure-miss');
      assert.equal(upstream.seen[upstream.seen.length - 1].headers['x-forwarded-proto'], 'https');
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeServer(upstream.server);
    }
  });
});
