// sluice/koa in real Koa apps, on every engine: what koa-static and
// koa-send leave out works through the adapter (ETag and 304, 412, 416,
// single and multipart ranges, Vary on precompressed files, precompressed
// siblings and the compress cache, the symlink policy), bodies are
// byte-identical and, off the copy engine, never copied; and Koa's side is
// kept: headers set with ctx.set() and ctx.type are sent, ctx.status and
// ctx.length tell loggers what went out, misses and other methods fall
// through to the next middleware, send() resolves to the path it sent.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import Koa from 'koa';
import koaStatic from 'koa-static';
import * as net from 'node:net';
import { Agent, request } from 'undici';
import { openCompressCache } from '../../server/src/compress-cache';
import { copyStats } from '../../server/src/engines/copy';
import serve from '../../server/src/koa';
import { fdsUnder, scratchDir, sha256 } from '../helpers/fixtures';
import { prng } from '../helpers/prng';
import { testCert } from '../helpers/tls';
import { engineOptions, forEachEngine, type EngineChoice } from '../helpers/server';

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface Layout {
  root: string;
  cacheDir: string;
  css: Buffer;
}

/** Text that compresses well but not trivially. */
function stylesheet(bytes: number, seed: number): Buffer {
  const random = prng(seed);
  let out = '';
  while (out.length < bytes) out += `.c${Math.floor(random() * 5000)} { margin: ${Math.floor(random() * 100)}px; }\n`;
  return Buffer.from(out.slice(0, bytes));
}

function makeLayout(): Layout {
  const base = scratchDir();
  const root = path.join(base, 'public');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.mkdirSync(outside);
  const random = prng(7);
  for (const size of [0, 65537, 1024 * 1024 + 3]) {
    fs.writeFileSync(path.join(root, `size-${size}.bin`), Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256))));
  }
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
  fs.writeFileSync(path.join(root, 'dir', 'index.html'), '<!DOCTYPE html><title>dir</title>\n');
  const js = stylesheet(20_000, 2);
  fs.writeFileSync(path.join(root, 'app.js'), js);
  fs.writeFileSync(path.join(root, 'app.js.br'), zlib.brotliCompressSync(js));
  fs.writeFileSync(path.join(root, 'app.js.gz'), zlib.gzipSync(js));
  const css = stylesheet(40_000, 1);
  fs.writeFileSync(path.join(root, 'site.css'), css);
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside the root\n');
  fs.symlinkSync('hello.txt', path.join(root, 'link-inside.txt'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link-outside.txt'));
  return { root, cacheDir: path.join(base, 'cache'), css };
}

/** The parts of a multipart/byteranges body. */
function parts(got: Got): Buffer[] {
  const boundary = /boundary=([^;]+)/.exec(String(got.headers['content-type']))?.[1];
  assert.ok(boundary, 'a multipart boundary');
  const out: Buffer[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = got.body.indexOf(delimiter);
  while (at >= 0) {
    const headEnd = got.body.indexOf('\r\n\r\n', at);
    const next = got.body.indexOf(delimiter, at + delimiter.length);
    if (headEnd < 0 || next < 0) break;
    out.push(got.body.subarray(headEnd + 4, next - 2));
    at = next;
  }
  return out;
}

/** Every status and length a logger placed before sluice/koa saw, by path. */
type Log = Map<string, { status: number; length: number | undefined }>;

/** What Koa reports when a client leaves mid-body (its on-finished sees the socket's error). */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

function app(layout: Layout, engine: EngineChoice, log: Log, unexpected: Error[]): Koa {
  const opts = engineOptions({ engine }) as { engine: EngineChoice; smallFileMax?: number };
  const koa = new Koa();
  // Koa's own filter (exposed client errors and 404s are not reported), and clients that left.
  koa.on('error', (err: Error & { expose?: boolean; status?: number; code?: string }) => {
    if (!err.expose && err.status !== 404 && !CLIENT_GONE.has(err.code ?? '')) unexpected.push(err);
  });
  // As koa-logger: the status that went out, or the error's.
  koa.use(async (ctx, next) => {
    try {
      await next();
      log.set(ctx.path, { status: ctx.status, length: ctx.length });
    } catch (err) {
      log.set(ctx.path, { status: (err as { status: number }).status, length: undefined });
      throw err;
    }
  });
  koa.use(async (ctx, next) => {
    ctx.set('X-App', 'koa');
    if (ctx.path === '/typed.txt') ctx.type = 'text/x-typed';
    await next();
  });
  koa.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/send/')) return next();
    const sent = await serve.send(ctx, ctx.path.slice('/send'.length), { root: layout.root, maxage: 5000, ...opts });
    log.set(`sent:${ctx.path}`, { status: 0, length: sent === undefined ? undefined : sent.length });
    sentPaths.set(ctx.path, sent);
  });
  koa.use(serve(layout.root, { ...opts, maxage: 60_000, symlinks: 'within-root', compress: { dir: layout.cacheDir } }));
  koa.use(async (ctx) => {
    ctx.body = `downstream ${ctx.method} ${ctx.path}`;
  });
  return koa;
}

const sentPaths = new Map<string, string | undefined>();

forEachEngine('sluice/koa', (engine: EngineChoice) => {
  const layout = makeLayout();
  const log: Log = new Map();
  const unexpected: Error[] = [];
  const zeroCopy = engine !== 'copy';
  let server: Server;
  let base: string;
  let agent: Agent;

  before(async () => {
    server = app(layout, engine, log, unexpected).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
    assert.deepEqual(unexpected, [], 'no error reached Koa but refusals and clients that left');
  });

  const get = async (urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> => {
    const res = await request(`${base}${urlPath}`, { method: method as 'GET', headers, dispatcher: agent });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  const bytes = (name: string): Buffer => fs.readFileSync(path.join(layout.root, name));

  it('should send bodies byte-identical (sha256), whole, ranged and multipart, without copying them', async () => {
    const copied = copyStats.bodies;
    for (const name of ['hello.txt', 'size-0.bin', 'size-65537.bin', 'size-1048579.bin']) {
      const got = await get(`/${name}`);
      assert.equal(got.status, 200, name);
      assert.equal(sha256(got.body), sha256(bytes(name)), name);
      assert.equal(got.headers['content-length'], String(bytes(name).length), name);
    }
    const data = bytes('size-1048579.bin');
    const one = await get('/size-1048579.bin', { range: 'bytes=65536-131071' });
    assert.equal(one.status, 206);
    assert.equal(one.headers['content-range'], `bytes 65536-131071/${data.length}`);
    assert.equal(sha256(one.body), sha256(data.subarray(65536, 131072)));
    const many = await get('/size-1048579.bin', { range: 'bytes=0-99,500000-500099,-10' });
    assert.equal(many.status, 206);
    assert.match(String(many.headers['content-type']), /^multipart\/byteranges; boundary=/);
    assert.deepEqual(parts(many).map(sha256), [data.subarray(0, 100), data.subarray(500000, 500100), data.subarray(data.length - 10)].map(sha256));
    assert.equal(log.get('/size-1048579.bin')?.status, 206);
    if (zeroCopy) assert.equal(copyStats.bodies, copied, 'no body went through the copy engine');
  });

  it('should answer 304 to If-None-Match and If-Modified-Since, with ctx.status 304 for the logger', async () => {
    const first = await get('/size-65537.bin');
    const etag = String(first.headers.etag);
    assert.match(etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    const again = await get('/size-65537.bin', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, etag);
    assert.equal(log.get('/size-65537.bin')?.status, 304);
    const since = await get('/size-65537.bin', { 'if-modified-since': String(first.headers['last-modified']) });
    assert.equal(since.status, 304);
    const changed = await get('/size-65537.bin', { 'if-none-match': 'W/"other"' });
    assert.equal(changed.status, 200);
    assert.equal(sha256(changed.body), sha256(bytes('size-65537.bin')));
  });

  it('should answer 412 to a failed If-Match or If-Unmodified-Since, and 416 with Content-Range to a range past the end', async () => {
    const failed = await get('/hello.txt', { 'if-match': '"nope"' });
    assert.equal(failed.status, 412);
    assert.equal(log.get('/hello.txt')?.status, 412);
    const old = await get('/hello.txt', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' });
    assert.equal(old.status, 412);
    const matched = await get('/hello.txt', { 'if-match': String((await get('/hello.txt')).headers.etag) });
    assert.equal(matched.status, 200);
    const past = await get('/hello.txt', { range: 'bytes=1000-' });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], 'bytes */13');
  });

  it('should send precompressed siblings with Vary: Accept-Encoding, and resolve send() to the sibling sent', async () => {
    for (const [accept, coding, file] of [
      ['br, gzip', 'br', 'app.js.br'],
      ['gzip', 'gzip', 'app.js.gz'],
      ['identity', undefined, 'app.js'],
    ] as const) {
      const got = await get('/app.js', { 'accept-encoding': accept });
      assert.equal(got.status, 200, accept);
      assert.equal(got.headers['content-encoding'], coding, accept);
      assert.equal(got.headers.vary, 'Accept-Encoding', accept);
      assert.match(String(got.headers['content-type']), /javascript/, accept);
      assert.equal(sha256(got.body), sha256(bytes(file)), accept);
      const sent = await get('/send/app.js', { 'accept-encoding': accept });
      assert.equal(sha256(sent.body), sha256(bytes(file)), accept);
      assert.equal(sentPaths.get('/send/app.js'), path.join(layout.root, file), accept);
    }
    const etags = new Set<string>();
    for (const accept of ['br', 'gzip', 'identity']) etags.add(String((await get('/app.js', { 'accept-encoding': accept })).headers.etag));
    assert.equal(etags.size, 3, 'each representation has its own ETag');
  });

  it('should serve the compress cache variant once made, with its own ETag, Vary and ranges', async () => {
    const first = await get('/site.css', { 'accept-encoding': 'br' });
    assert.equal(first.headers['content-encoding'], undefined);
    assert.equal(first.headers.vary, 'Accept-Encoding');
    assert.equal(sha256(first.body), sha256(layout.css));
    const cache = openCompressCache({ dir: layout.cacheDir, maxBytes: 512 * 1024 * 1024 }, layout.root);
    assert.ok(cache);
    await cache.idle();
    const coded = await get('/site.css', { 'accept-encoding': 'br' });
    assert.equal(coded.headers['content-encoding'], 'br');
    assert.equal(coded.headers.vary, 'Accept-Encoding');
    assert.equal(coded.headers.etag, `${String(first.headers.etag).slice(0, -1)}-br"`);
    assert.deepEqual(zlib.brotliDecompressSync(coded.body), layout.css);
    const part = await get('/site.css', { 'accept-encoding': 'br', range: 'bytes=10-109' });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, coded.body.subarray(10, 110));
  });

  it("should apply the symlink policy: a link inside the root is served, one leaving it is refused (403, Koa's answer)", async () => {
    const inside = await get('/link-inside.txt');
    assert.equal(inside.status, 200);
    assert.equal(inside.body.toString(), 'hello, world\n');
    const outside = await get('/link-outside.txt');
    assert.equal(outside.status, 403);
    assert.doesNotMatch(outside.body.toString(), /outside the root/);
  });

  it("should send headers set with ctx.set() and ctx.type, with koa-send's Cache-Control, and Koa's ctx.length", async () => {
    const got = await get('/hello.txt');
    assert.equal(got.headers['x-app'], 'koa');
    assert.equal(got.headers['cache-control'], 'max-age=60');
    assert.equal(got.headers['accept-ranges'], 'bytes');
    assert.deepEqual(log.get('/hello.txt'), { status: 200, length: 13 });
    fs.writeFileSync(path.join(layout.root, 'typed.txt'), 'typed\n');
    assert.equal((await get('/typed.txt')).headers['content-type'], 'text/x-typed; charset=utf-8');
    const sent = await get('/send/hello.txt');
    assert.equal(sent.headers['cache-control'], 'max-age=5');
    const head = await get('/size-65537.bin', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '65537');
    assert.equal(head.body.length, 0);
  });

  it('should let go of the file when clients leave mid-body, and keep serving', async () => {
    const { port } = server.address() as AddressInfo;
    await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<void>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /size-1048579.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
            socket.once('data', () => {
              socket.destroy();
              resolve();
            });
            socket.on('error', () => resolve());
          }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The file table may keep its one fd per file; no response holds another.
    assert.ok(fdsUnder(layout.root).filter((f) => f.endsWith('size-1048579.bin')).length <= 1);
    const got = await get('/size-1048579.bin');
    assert.equal(sha256(got.body), sha256(bytes('size-1048579.bin')));
  });

  it("should pass misses and other methods on to the next middleware, and serve a directory's index", async () => {
    const miss = await get('/nothing-here.txt');
    assert.equal(miss.status, 200);
    assert.equal(miss.body.toString(), 'downstream GET /nothing-here.txt');
    const post = await get('/hello.txt', {}, 'POST');
    assert.equal(post.body.toString(), 'downstream POST /hello.txt');
    const index = await get('/dir/');
    assert.equal(index.body.toString(), '<!DOCTYPE html><title>dir</title>\n');
    const slashless = await get('/dir');
    assert.equal(slashless.status, 200, 'format: a directory without its slash serves its index');
    const missing = await get('/send/nothing-here.txt');
    assert.equal(missing.status, 404, 'send() rejects a miss with a 404');
  });
});

describe('sluice/koa options and statuses', () => {
  it("should refuse a missing root with koa-static's message, and bad options when the middleware is made", () => {
    assert.throws(() => serve(''), { name: 'AssertionError', message: 'root directory is required to serve files' });
    assert.throws(() => serve('.', { engine: 'bogus' as 'copy' }), /engine/);
    assert.throws(() => serve('.', { extensions: ['html', 2 as unknown as string] }), {
      name: 'TypeError',
      message: 'option extensions must be array of strings or false',
    });
    assert.throws(() => serve('.', { setHeaders: 'x' as unknown as () => void }), { name: 'TypeError', message: 'option setHeaders must be function' });
  });

  it('should send a file with a status the app set explicitly, and defer to what downstream answered', async () => {
    const layout = makeLayout();
    const koa = new Koa();
    koa.use(serve(layout.root, { defer: true }));
    koa.use(async (ctx, next) => {
      if (ctx.path === '/answered.txt') ctx.body = 'downstream';
      else if (ctx.path === '/hello.txt') ctx.status = 203;
      else await next();
    });
    const server = koa.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const answered = await request(`${base}/answered.txt`);
      assert.equal(await answered.body.text(), 'downstream');
      const explicit = await request(`${base}/hello.txt`);
      assert.equal(explicit.statusCode, 203, 'a status set downstream is not a 404: defer leaves it');
      await explicit.body.dump();
      const served = await request(`${base}/size-65537.bin`);
      assert.equal(served.statusCode, 200);
      assert.equal(sha256(Buffer.from(await served.body.arrayBuffer())), sha256(fs.readFileSync(path.join(layout.root, 'size-65537.bin'))));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const direct = new Koa();
    direct.use(async (ctx) => {
      ctx.status = 203;
      await serve.send(ctx, 'hello.txt', { root: layout.root });
    });
    const other = direct.listen(0, '127.0.0.1');
    await new Promise((resolve) => other.once('listening', resolve));
    try {
      const got = await request(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      assert.equal(got.statusCode, 203, 'send() keeps a status set before it');
      assert.equal(await got.body.text(), 'hello, world\n');
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('sluice/koa over TLS', () => {
  const { cert, reason } = testCert();
  if (!cert) {
    it.skip(`skipped: no certificate (${reason})`, () => {});
    return;
  }

  it('should serve a Koa app on https and on http2 (allowHTTP1) byte-exact, ranges included (the copy engine underneath)', async () => {
    const layout = makeLayout();
    const koa = new Koa();
    koa.use(serve(layout.root));
    const data = fs.readFileSync(path.join(layout.root, 'size-1048579.bin'));
    const tls = https.createServer({ key: cert.key, cert: cert.cert }, koa.callback());
    const h2 = http2.createSecureServer({ key: cert.key, cert: cert.cert, allowHTTP1: true }, koa.callback());
    const servers = [tls, h2] as const;
    await Promise.all(servers.map((s) => new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(null)))));
    const [tlsPort, h2Port] = servers.map((s) => (s.address() as AddressInfo).port);
    const agent = new Agent({ connect: { ca: cert.cert } });
    const session = http2.connect(`https://127.0.0.1:${h2Port}`, { ca: cert.cert });
    try {
      const whole = await request(`https://127.0.0.1:${tlsPort}/size-1048579.bin`, { dispatcher: agent });
      assert.equal(sha256(Buffer.from(await whole.body.arrayBuffer())), sha256(data));
      const part = await request(`https://127.0.0.1:${tlsPort}/size-1048579.bin`, { dispatcher: agent, headers: { range: 'bytes=100-199' } });
      assert.equal(part.statusCode, 206);
      assert.deepEqual(Buffer.from(await part.body.arrayBuffer()), data.subarray(100, 200));
      const got = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const stream = session.request({ ':path': '/size-1048579.bin' });
        const chunks: Buffer[] = [];
        let status = 0;
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
      });
      assert.equal(got.status, 200);
      assert.equal(sha256(got.body), sha256(data));
    } finally {
      session.close();
      await agent.close();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(null)))));
    }
  });
});

describe('sluice/koa next to koa-static', () => {
  it("should answer koa-static's requests with koa-static's status, type, length and bytes", async () => {
    const layout = makeLayout();
    const apps = [serve(layout.root), koaStatic(layout.root)].map((middleware) => {
      const koa = new Koa();
      koa.use(middleware);
      return koa.listen(0, '127.0.0.1');
    });
    try {
      await Promise.all(apps.map((s) => new Promise((resolve) => (s.listening ? resolve(null) : s.once('listening', resolve)))));
      const [ours, theirs] = apps.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
      for (const [urlPath, accept] of [
        ['/hello.txt', 'identity'],
        ['/dir/', 'identity'],
        ['/dir', 'identity'],
        ['/app.js', 'gzip'],
        ['/app.js', 'br'],
        ['/size-65537.bin', 'identity'],
        ['/nothing', 'identity'],
      ]) {
        const [a, b] = await Promise.all(
          [ours, theirs].map(async (origin) => {
            const res = await request(`${origin}${urlPath}`, { headers: { 'accept-encoding': accept } });
            const body = Buffer.from(await res.body.arrayBuffer());
            const h = res.headers;
            return {
              status: res.statusCode,
              type: h['content-type'],
              length: h['content-length'],
              coding: h['content-encoding'],
              cache: h['cache-control'],
              body: sha256(body),
            };
          }),
        );
        assert.deepEqual(a, b, `${urlPath} (${accept})`);
      }
    } finally {
      await Promise.all(apps.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });
});
