// sluice/hono inside a real Hono app on @hono/node-server, on every engine:
// what @hono/node-server's own serveStatic lacks (ETag and 304, 412,
// single and multipart ranges, Vary, precompressed siblings and the
// compress cache, the symlink policy), bodies byte-identical, headers set
// on the context kept, misses through onNotFound to the next handler, and
// a connection that goes on serving after each; and the same app over HTTP/2.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import { poweredBy } from 'hono/powered-by';
import { secureHeaders } from 'hono/secure-headers';
import { timing } from 'hono/timing';
import { Agent } from 'undici';
import { openCompressCache } from '../../server/src/compress-cache';
import { serveStatic } from '../../server/src/hono';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { getter } from '../helpers/http-client';
import { prng } from '../helpers/prng';
import { forEachEngine } from '../helpers/server';
import { testCert } from '../helpers/tls';

const MAX_BYTES = 64 * 1024 * 1024;

function randomBytes(n: number, seed: number): Buffer {
  const next = prng(seed);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}

function stylesheet(rules: number): Buffer {
  let css = '';
  for (let i = 0; i < rules; i++) css += `.rule-${i} { color: #${((i * 2654435761) % 0xffffff).toString(16).padStart(6, '0')}; margin: ${i % 17}px }\n`;
  return Buffer.from(css);
}

interface Site {
  root: string;
  cacheDir: string;
  big: Buffer;
  css: Buffer;
  pre: Buffer;
}

function makeSite(): Site {
  const base = scratchDir();
  const root = path.join(base, 'public');
  const cacheDir = path.join(base, 'cache');
  fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
  const big = randomBytes(1024 * 1024 + 3, 19);
  const css = stylesheet(3000);
  const pre = Buffer.from('precompressed original\n'.repeat(200));
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  fs.writeFileSync(path.join(root, 'empty.txt'), '');
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, hono\n');
  fs.writeFileSync(path.join(root, 'docs', 'index.html'), '<h1>docs</h1>\n');
  fs.writeFileSync(path.join(root, 'site.css'), css);
  fs.writeFileSync(path.join(root, 'pre.txt'), pre);
  fs.writeFileSync(path.join(root, 'pre.txt.br'), zlib.brotliCompressSync(pre));
  fs.writeFileSync(path.join(root, 'pre.txt.gz'), zlib.gzipSync(pre));
  fs.writeFileSync(path.join(base, 'outside.txt'), 'outside the root\n');
  fs.symlinkSync(path.join(root, 'hello.txt'), path.join(root, 'link-in.txt'));
  fs.symlinkSync(path.join(base, 'outside.txt'), path.join(root, 'link-out.txt'));
  return { root, cacheDir, big, css, pre };
}

function app(site: Site, engine: string, misses: string[]): Hono {
  const strip = (prefix: string) => (p: string) => p.slice(prefix.length);
  const common = { root: site.root, engine: engine as 'auto' };
  const hono = new Hono();
  hono.use('*', async (c, next) => {
    c.header('X-Before', 'kept');
    c.header('Set-Cookie', 'a=1; Path=/', { append: true });
    c.header('Set-Cookie', 'b=2; Path=/', { append: true });
    await next();
    // After the body is on the wire: cannot reach it, must not break it.
    c.header('X-After', 'late');
  });
  hono.use('/s/*', serveStatic({ ...common, rewriteRequestPath: strip('/s'), onNotFound: (p) => void misses.push(p) }));
  hono.use('/pre/*', serveStatic({ ...common, rewriteRequestPath: strip('/pre'), precompressed: true }));
  hono.use('/z/*', serveStatic({ ...common, rewriteRequestPath: strip('/z'), compress: { dir: site.cacheDir, maxBytes: MAX_BYTES } }));
  hono.use('/up/*', serveStatic({ ...common, path: '../outside.txt' }));
  hono.use('/up-within/*', serveStatic({ ...common, path: '../outside.txt', symlinks: 'within-root' }));
  hono.use('/rfc/*', serveStatic({ ...common, rewriteRequestPath: strip('/rfc'), lenientRange: false }));
  hono.use('/within/*', serveStatic({ ...common, rewriteRequestPath: strip('/within'), symlinks: 'within-root' }));
  hono.use('/deny/*', serveStatic({ ...common, rewriteRequestPath: strip('/deny'), symlinks: 'deny' }));
  hono.use('/cached/*', serveStatic({ ...common, rewriteRequestPath: strip('/cached'), maxAge: '1h', headers: { 'X-Frame-Options': 'DENY' } }));
  hono.use(
    '/found/*',
    serveStatic({
      ...common,
      rewriteRequestPath: strip('/found'),
      onFound: async (_p, c) => {
        await new Promise((resolve) => setImmediate(resolve));
        c.header('X-Found', 'after an await');
      },
    }),
  );
  hono.get('*', (c) => c.text('hono 404', 404));
  return hono;
}

forEachEngine('hono', (engine) => {
  const site = makeSite();
  const misses: string[] = [];
  let server: http.Server;
  let base = '';
  let agent: Agent;
  const get = getter(
    () => base,
    () => agent,
  );

  before(async () => {
    server = createAdaptorServer(app(site, engine, misses)) as http.Server;
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // One connection: every answer must leave it ready for the next.
    agent = new Agent({ connections: 1 });
  });
  after(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('should send bodies byte-identical, with the headers set on the context before it', async () => {
    for (const name of ['big.bin', 'hello.txt', 'empty.txt', 'site.css']) {
      const res = await get(`/s/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(sha256(res.body), sha256(fs.readFileSync(path.join(site.root, name))), name);
      assert.equal(res.headers['content-length'], String(res.body.length), name);
      assert.equal(res.headers['x-before'], 'kept', name);
      assert.equal(res.headers['x-after'], undefined, name);
      assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/'], name);
      assert.equal(res.headers['cache-control'], undefined, name);
    }
    const css = await get('/s/site.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await get('/s/docs')).body.toString(), '<h1>docs</h1>\n');
    const cached = await get('/cached/hello.txt');
    assert.equal(cached.headers['cache-control'], 'public, max-age=3600');
    assert.equal(cached.headers['x-frame-options'], 'DENY');
    const revalidated = await get('/cached/hello.txt', { 'if-none-match': String(cached.headers.etag) });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers['x-frame-options'], 'DENY');
  });

  it('should answer ETag and Last-Modified revalidations with 304', async () => {
    const first = await get('/s/big.bin');
    const etag = String(first.headers.etag);
    assert.match(etag, /^W\/"/);
    const byTag = await get('/s/big.bin', { 'if-none-match': etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body.length, 0);
    assert.equal(byTag.headers.etag, etag);
    assert.equal(byTag.headers['x-before'], 'kept');
    assert.equal((await get('/s/big.bin', { 'if-modified-since': String(first.headers['last-modified']) })).status, 304);
    assert.equal((await get('/s/big.bin', { 'if-none-match': 'W/"other"' })).status, 200);
  });

  it('should answer failed preconditions with 412', async () => {
    const res = await get('/s/hello.txt', { 'if-match': '"not-this"' });
    assert.equal(res.status, 412);
    assert.equal(res.body.length, 0);
    assert.equal((await get('/s/hello.txt', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 412);
    assert.equal((await get('/s/hello.txt')).status, 200);
  });

  it('should send single and multipart ranges exactly, and 416 for none', async () => {
    const one = await get('/s/big.bin', { range: 'bytes=1000-200999' });
    assert.equal(one.status, 206);
    assert.equal(one.headers['content-range'], `bytes 1000-200999/${site.big.length}`);
    assert.equal(sha256(one.body), sha256(site.big.subarray(1000, 201000)));
    const many = await get('/s/big.bin', { range: 'bytes=0-9,500000-500099,-7' });
    assert.equal(many.status, 206);
    const boundary = /boundary=(\S+)/.exec(String(many.headers['content-type']))?.[1];
    assert.ok(boundary);
    const text = many.body.toString('latin1');
    assert.equal(text.split(`--${boundary}\r\n`).length - 1, 3);
    for (const [from, to] of [
      [0, 10],
      [500000, 500100],
      [site.big.length - 7, site.big.length],
    ]) {
      assert.ok(many.body.includes(site.big.subarray(from, to)), `part ${from}-${to}`);
    }
    assert.ok(text.endsWith(`\r\n--${boundary}--\r\n`));
    const none = await get('/s/big.bin', { range: `bytes=${site.big.length}-` });
    assert.equal(none.status, 416);
    assert.equal(none.headers['content-range'], `bytes */${site.big.length}`);
    const lenient = await get('/s/hello.txt', { range: 'hello' });
    assert.equal(lenient.status, 206);
    assert.equal(lenient.headers['content-range'], 'bytes 0-11/12');
    assert.equal((await get('/s/hello.txt', { range: '0-4' })).body.toString(), 'hello');
    const rfc = await get('/rfc/hello.txt', { range: 'hello' });
    assert.equal(rfc.status, 200);
    assert.equal(rfc.body.toString(), 'hello, hono\n');
    const stale = await get('/s/big.bin', { range: 'bytes=0-9', 'if-range': 'W/"stale"' });
    assert.equal(stale.status, 200);
    assert.equal(sha256(stale.body), sha256(site.big));
  });

  it('should serve precompressed siblings with Vary on every variant', async () => {
    const br = await get('/pre/pre.txt', { 'accept-encoding': 'gzip, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.equal(sha256(br.body), sha256(fs.readFileSync(path.join(site.root, 'pre.txt.br'))));
    assert.ok(zlib.brotliDecompressSync(br.body).equals(site.pre));
    const gz = await get('/pre/pre.txt', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(zlib.gunzipSync(gz.body).equals(site.pre));
    const identity = await get('/pre/pre.txt', { 'accept-encoding': 'identity' });
    assert.equal(identity.headers['content-encoding'], undefined);
    assert.equal(identity.headers.vary, 'Accept-Encoding');
    assert.ok(identity.body.equals(site.pre));
    assert.notEqual(br.headers.etag, identity.headers.etag);
    assert.equal((await get('/pre/pre.txt', { 'accept-encoding': 'br', 'if-none-match': String(br.headers.etag) })).status, 304);
  });

  it('should serve the compress cache variant once it is made', async () => {
    const first = await get('/z/site.css', { 'accept-encoding': 'br' });
    assert.equal(first.headers['content-encoding'], undefined);
    assert.equal(first.headers.vary, 'Accept-Encoding');
    assert.ok(first.body.equals(site.css));
    const cache = openCompressCache({ dir: site.cacheDir, maxBytes: MAX_BYTES }, site.root);
    assert.ok(cache);
    await cache.idle();
    const second = await get('/z/site.css', { 'accept-encoding': 'br' });
    assert.equal(second.headers['content-encoding'], 'br');
    assert.equal(second.headers.vary, 'Accept-Encoding');
    assert.ok(second.body.length < site.css.length);
    assert.ok(zlib.brotliDecompressSync(second.body).equals(site.css));
    assert.equal(second.headers['x-before'], 'kept');
  });

  it('should apply the symlink policy, a refused link being a miss', async () => {
    assert.equal((await get('/s/link-out.txt')).body.toString(), 'outside the root\n');
    assert.equal((await get('/within/link-in.txt')).body.toString(), 'hello, hono\n');
    const within = await get('/within/link-out.txt');
    assert.equal(within.status, 404);
    assert.equal(within.body.toString(), 'hono 404');
    assert.equal((await get('/deny/link-in.txt')).body.toString(), 'hono 404');
    assert.equal((await get('/deny/hello.txt')).body.toString(), 'hello, hono\n');
  });

  it('should call onNotFound and the next handler for a miss', async () => {
    misses.length = 0;
    const res = await get('/s/missing.txt');
    assert.equal(res.status, 404);
    assert.equal(res.body.toString(), 'hono 404');
    assert.equal(res.headers['x-after'], 'late');
    assert.equal(misses.length, 1);
    assert.ok(misses[0].endsWith(`${path.sep}missing.txt`), misses[0]);
    assert.equal((await get('/s/../hello.txt')).body.toString(), 'hono 404');
    // `path` joined to root may leave it, as with @hono/node-server; not under 'within-root'.
    assert.equal((await get('/up/x')).body.toString(), 'outside the root\n');
    assert.equal((await get('/up-within/x')).body.toString(), 'hono 404');
  });

  it('should wait for an async onFound before the head', async () => {
    const res = await get('/found/hello.txt');
    assert.equal(res.headers['x-found'], 'after an await');
    assert.equal(res.body.toString(), 'hello, hono\n');
    assert.equal((await get('/found/nothing.txt')).body.toString(), 'hono 404');
  });

  it('should answer HEAD with the head alone', async () => {
    const res = await get('/s/big.bin', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(site.big.length));
    assert.equal(res.body.length, 0);
  });
});

describe('hono over HTTP/2 (@hono/node-server with http2.createSecureServer)', function () {
  const { cert, reason } = testCert();
  if (cert === null) {
    it.skip(`skipped: no test certificate (${reason})`, () => {});
    return;
  }
  const site = makeSite();
  let server: http2.Http2SecureServer;
  let client: http2.ClientHttp2Session;

  before(async () => {
    const hono = app(site, 'auto', []);
    server = createAdaptorServer({
      fetch: hono.fetch,
      createServer: http2.createSecureServer,
      serverOptions: { key: cert.key, cert: cert.cert },
    }) as http2.Http2SecureServer;
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    client = http2.connect(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, { rejectUnauthorized: false });
  });
  after(async () => {
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = (p: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = client.request({ ':path': p, ...headers });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (head = h));
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
      req.on('error', reject);
    });

  it('should send whole files, ranges and 304s on HTTP/2 streams', async () => {
    const whole = await get('/s/big.bin');
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), sha256(site.big));
    assert.equal(whole.headers['x-before'], 'kept');
    const part = await get('/s/big.bin', { range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(site.big.subarray(100, 200)));
    assert.equal((await get('/s/big.bin', { 'if-none-match': String(whole.headers.etag) })).status, 304);
    assert.equal((await get('/s/missing.txt')).body.toString(), 'hono 404');
  });
});

describe("hono behind Hono's own middleware that works after await next()", () => {
  const site = makeSite();
  let server: http.Server;
  let base = '';
  let agent: Agent;
  let connections = 0;
  const get = getter(
    () => base,
    () => agent,
  );

  before(async () => {
    const hono = new Hono();
    hono.use(compress(), etag(), secureHeaders(), poweredBy(), cors({ origin: 'https://app.example' }), timing());
    hono.use('/*', serveStatic({ root: site.root }));
    server = createAdaptorServer(hono) as http.Server;
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    agent = new Agent({ connections: 1 });
  });
  after(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('should send the file untouched, keep the connection, and log nothing', async () => {
    const logged: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      const whole = await get('/site.css', { 'accept-encoding': 'gzip', origin: 'https://app.example' });
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(site.css));
      assert.equal(whole.headers['content-encoding'], undefined);
      assert.equal(whole.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(whole.headers['x-powered-by'], undefined);
      const part = await get('/big.bin', { range: 'bytes=5-9' });
      assert.ok(part.body.equals(site.big.subarray(5, 10)));
      assert.equal((await get('/site.css', { 'if-none-match': String(whole.headers.etag) })).status, 304);
      assert.equal((await get('/missing')).status, 404);
    } finally {
      console.error = original;
    }
    assert.deepEqual(logged, []);
    assert.equal(connections, 1);
  });
});
