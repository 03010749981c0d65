// The library options behind the operator flags: fields on every response.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Agent } from 'undici';
import type { AddressInfo } from 'node:net';
import type { ServerOptions } from '../../server/src/index';
import { createHandler, createServer } from '../../server/src/index';
import { fixtures, scratchDir, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { getter, type Reply } from '../helpers/http-client';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

function makeSite(): string {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
  fs.mkdirSync(path.join(root, 'dir'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>home</title>\n');
  fs.writeFileSync(path.join(root, 'dir', 'index.html'), 'dir\n');
  fs.writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
  fs.writeFileSync(path.join(root, 'big.css'), 'body { color: black }\n'.repeat(200));
  fs.writeFileSync(path.join(root, 'big.css.gz'), zlib.gzipSync(fs.readFileSync(path.join(root, 'big.css'))));
  return root;
}

function serving(root: string, opts: () => ServerOptions): (p: string, h?: Record<string, string>, m?: string) => Promise<Reply> {
  let server: TestServer;
  const agent = new Agent({ pipelining: 0 });
  before(async () => {
    server = await startServer(root, opts());
  });
  after(async () => {
    await agent.close();
    await server.close();
  });
  return getter(
    () => server.url,
    () => agent,
  );
}

forEachEngine('headers option: fields on every response', (engine) => {
  const root = makeSite();
  const get = serving(root, () => ({
    engine,
    cors: true,
    headers: { 'X-Frame-Options': 'DENY', 'Access-Control-Allow-Origin': 'https://app.example', 'X-Count': 3, Vary: 'Origin' },
  }));

  it('should put them on a file, once, and on its 304 and 206', async () => {
    const file = await get('/hello.txt');
    assert.equal(file.status, 200);
    assert.equal(file.headers['x-frame-options'], 'DENY');
    assert.equal(file.headers['x-count'], '3');
    // The option's field replaces CORS's of the same name: one field, not two.
    assert.equal(file.headers['access-control-allow-origin'], 'https://app.example');
    assert.ok(file.headers['access-control-expose-headers']);
    const again = await get('/hello.txt', { 'if-none-match': String(file.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.headers['x-frame-options'], 'DENY');
    const part = await get('/hello.txt', { range: 'bytes=0-4' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['x-frame-options'], 'DENY');
  });

  it('should name Accept-Encoding in a Vary of its own when variants exist', async () => {
    const r = await get('/big.css', { 'accept-encoding': 'gzip' });
    assert.equal(r.headers['vary'], 'Origin, Accept-Encoding');
    assert.equal(r.headers['content-encoding'], 'gzip');
    const plain = await get('/hello.txt');
    assert.equal(plain.headers['vary'], 'Origin');
  });

  it('should put them on errors, redirects and OPTIONS answers', async () => {
    for (const [p, method, status] of [
      ['/missing', 'GET', 404],
      ['/dir', 'GET', 301],
      ['/hello.txt', 'OPTIONS', 204],
      ['/hello.txt', 'DELETE', 405],
    ] as const) {
      const r = await get(p, {}, method);
      assert.equal(r.status, status, `${method} ${p}`);
      assert.equal(r.headers['x-frame-options'], 'DENY', `${method} ${p}`);
    }
  });
});

describe('headers option: with header rules', () => {
  const root = makeSite();
  const get = serving(root, () => ({
    headers: [
      {
        headers: [
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'Cache-Control', value: 'no-cache' },
        ],
      },
      { source: '/assets/**', headers: [{ key: 'Cache-Control', value: 'public, max-age=31536000, immutable' }] },
      { source: '/hello.txt', headers: [{ key: 'X-Frame-Options', value: null }] },
    ],
    trailingSlash: false,
  }));

  it('should let a rule for a path win over a field without a source', async () => {
    const asset = await get('/assets/app.js');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(asset.headers['x-frame-options'], 'DENY');
    const page = await get('/index.html');
    assert.equal(page.headers['cache-control'], 'no-cache');
    const removed = await get('/hello.txt');
    assert.equal(removed.headers['x-frame-options'], undefined);
  });

  it('should put source-less fields on rule redirects', async () => {
    const r = await get('/dir/');
    assert.equal(r.status, 301);
    assert.equal(r.headers['x-frame-options'], 'DENY');
  });
});

describe('headers option: refusals', () => {
  const root = makeSite();
  it('should refuse a field Node would refuse, at construction', () => {
    for (const headers of [
      { 'Bad Name': 'x' },
      { 'X-Ok': 'line\nbreak' },
      [{ source: '**', headers: [{ key: 'X(', value: 'x' }] }],
      [{ headers: [{ key: 'X-Gone', value: null }] }],
      { 'Content-Length': '5' },
      { ETag: '"x"' },
      'X-Frame-Options: DENY',
    ]) {
      assert.throws(
        () => createHandler(root, { headers: headers as ServerOptions['headers'] }),
        (err: NodeJS.ErrnoException) => err instanceof TypeError && err.code === 'ERR_INVALID_ARG_VALUE' && /headers/.test(err.message),
        JSON.stringify(headers),
      );
    }
  });
});

describe('health option', () => {
  const root = makeSite();
  fs.writeFileSync(path.join(root, 'healthz'), 'a file the health path shadows\n');
  const get = serving(root, () => ({ health: '/healthz', headers: { 'X-Frame-Options': 'DENY', 'Cache-Control': 'public, max-age=60' } }));

  it('should answer 200 ok before looking for a file, never to be stored', async () => {
    for (const p of ['/healthz', '/healthz?probe=1']) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      assert.equal(r.body.toString(), 'ok', p);
      assert.equal(r.headers['cache-control'], 'no-store', p);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', p);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
      assert.equal(r.headers.etag, undefined, p);
    }
    const head = await get('/healthz', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it('should leave other paths and methods alone', async () => {
    assert.equal((await get('/healthz/x')).status, 404);
    assert.equal((await get('/healthzz')).status, 404);
    assert.equal((await get('/healthz', {}, 'POST')).status, 405);
    assert.equal((await get('/hello.txt')).body.toString(), 'hello, world\n');
  });

  it('should refuse a health path that is not a path', () => {
    for (const health of ['healthz', '/a b', '/h?x', 7, true]) {
      assert.throws(
        () => createHandler(root, { health: health as string }),
        (err: NodeJS.ErrnoException) => err.code === 'ERR_INVALID_ARG_VALUE' && /"health"/.test(err.message),
        String(health),
      );
    }
  });
});

describe('health option: while the server closes', () => {
  it('should answer 503 on a connection still open after close()', async function () {
    this.timeout(30_000);
    const fx = fixtures();
    const big = '/size-67108864.bin';
    const server = createServer(fx.root, { health: '/healthz' });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = await connect((server.address() as AddressInfo).port);
    try {
      socket.pause();
      socket.write(requestText('GET', big));
      await new Promise((r) => setTimeout(r, 200));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      socket.write(requestText('GET', '/healthz'));
      const reading = readResponses(socket, 2, [], 20_000);
      socket.resume();
      const [download, health] = await reading;
      assert.equal(download?.status, 200);
      assert.equal(sha256(download?.body ?? Buffer.alloc(0)), sha256(fx.bytes(big)));
      assert.equal(health?.status, 503);
      assert.equal(health?.body.toString(), 'draining');
      assert.equal(health?.headers['cache-control'], 'no-store');
      await closed;
    } finally {
      socket.destroy();
      server.closeAllConnections();
    }
  });
});

describe('mimeTypes option', () => {
  const root = makeSite();
  fs.writeFileSync(path.join(root, 'notes.md'), '# notes\n'.repeat(300));
  fs.writeFileSync(path.join(root, 'notes.md.gz'), zlib.gzipSync(fs.readFileSync(path.join(root, 'notes.md'))));
  fs.writeFileSync(path.join(root, 'LOUD.MD'), '# loud\n');
  fs.writeFileSync(path.join(root, 'model.glbx'), 'glb');
  fs.writeFileSync(path.join(root, 'legacy.txt'), 'latin\n');
  const typed = serving(root, () => ({
    mimeTypes: { '.md': 'text/plain', GLBX: 'model/x-sluice', txt: 'text/plain; charset=iso-8859-1' },
  }));
  const plain = serving(root, () => ({}));

  it('should send the type given for an extension, with a charset for text types', async () => {
    const md = await typed('/notes.md');
    assert.equal(md.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal((await typed('/LOUD.MD')).headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal((await typed('/model.glbx')).headers['content-type'], 'model/x-sluice');
    assert.equal((await typed('/legacy.txt')).headers['content-type'], 'text/plain; charset=iso-8859-1');
    // Other extensions keep the built-in types.
    assert.equal((await typed('/assets/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  });

  it('should keep the type for a precompressed variant and a ranged part', async () => {
    const gz = await typed('/notes.md', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-type'], 'text/plain; charset=utf-8');
    const part = await typed('/notes.md', { range: 'bytes=0-3' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-type'], 'text/plain; charset=utf-8');
  });

  it("should leave another server's types alone for the same files", async () => {
    await typed('/notes.md');
    assert.equal((await plain('/notes.md')).headers['content-type'], 'text/markdown; charset=utf-8');
    assert.equal((await plain('/model.glbx')).headers['content-type'], 'application/octet-stream');
    assert.equal((await typed('/notes.md')).headers['content-type'], 'text/plain; charset=utf-8');
  });

  it('should refuse an extension or a type that is not one', () => {
    for (const mimeTypes of [
      { 'a.b': 'text/plain' },
      { '': 'text/plain' },
      { wasm: 'application' },
      { wasm: 'text/plain; charset' },
      { x: 'a b/c' },
      { x: 7 },
      'wasm',
    ]) {
      assert.throws(
        () => createHandler(root, { mimeTypes: mimeTypes as unknown as Record<string, string> }),
        (err: NodeJS.ErrnoException) => err.code === 'ERR_INVALID_ARG_VALUE' && /"mimeTypes"/.test(err.message),
        JSON.stringify(mimeTypes),
      );
    }
  });
});

describe('cors option: a list of origins', () => {
  const root = makeSite();
  const get = serving(root, () => ({ cors: { origins: ['https://App.example', 'http://localhost:3000'], allowHeaders: ['X-Token', 'Content-Type'] } }));
  const listed = { origin: 'https://app.example' };

  it('should reflect a listed Origin, with Vary: Origin on every response', async () => {
    const ok = await get('/hello.txt', listed);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(String(ok.headers['access-control-expose-headers']), /Content-Range/);
    assert.equal(ok.headers.vary, 'Origin');
    const local = await get('/hello.txt', { origin: 'http://localhost:3000' });
    assert.equal(local.headers['access-control-allow-origin'], 'http://localhost:3000');
    for (const headers of [{ origin: 'https://evil.example' }, {}] as Record<string, string>[]) {
      const r = await get('/hello.txt', headers);
      assert.equal(r.status, 200);
      assert.equal(r.headers['access-control-allow-origin'], undefined, JSON.stringify(headers));
      assert.equal(r.headers['access-control-expose-headers'], undefined, JSON.stringify(headers));
      assert.equal(r.headers.vary, 'Origin', JSON.stringify(headers));
    }
  });

  it('should reflect it on 304s, variants, errors and redirects too', async () => {
    const first = await get('/hello.txt', listed);
    const again = await get('/hello.txt', { ...listed, 'if-none-match': String(first.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.headers['access-control-allow-origin'], 'https://app.example');
    const gz = await get('/big.css', { ...listed, 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'Origin, Accept-Encoding');
    assert.equal(gz.headers['access-control-allow-origin'], 'https://app.example');
    for (const [p, status] of [
      ['/missing', 404],
      ['/dir', 301],
    ] as const) {
      const r = await get(p, listed);
      assert.equal(r.status, status, p);
      assert.equal(r.headers['access-control-allow-origin'], 'https://app.example', p);
      assert.equal(r.headers.vary, 'Origin', p);
      assert.equal((await get(p, { origin: 'https://evil.example' })).headers['access-control-allow-origin'], undefined, p);
    }
  });

  it("should answer a listed origin's preflight with the allowed headers, and no other's", async () => {
    const ask = { 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-token, x-other' };
    const yes = await get('/hello.txt', { ...listed, ...ask }, 'OPTIONS');
    assert.equal(yes.status, 204);
    assert.equal(yes.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(yes.headers['access-control-allow-headers'], 'X-Token, Content-Type');
    assert.equal(yes.headers.vary, 'Origin');
    const no = await get('/hello.txt', { origin: 'https://evil.example', ...ask }, 'OPTIONS');
    assert.equal(no.status, 204);
    assert.equal(no.headers['access-control-allow-origin'], undefined);
    assert.equal(no.headers['access-control-allow-headers'], undefined);
    assert.equal(no.headers.vary, 'Origin');
  });
});

describe('cors option: any origin, with the headers preflights allow', () => {
  const root = makeSite();
  const get = serving(root, () => ({ cors: { allowHeaders: ['X-Token'] } }));

  it('should say * and name only the allowed headers', async () => {
    const r = await get('/hello.txt', { origin: 'https://any.example' });
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers.vary, undefined);
    const pre = await get(
      '/hello.txt',
      { origin: 'https://any.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-other' },
      'OPTIONS',
    );
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-headers'], 'X-Token');
    assert.equal(pre.headers.vary, undefined);
  });

  it('should refuse origins and header names that are not', () => {
    for (const cors of [
      { origins: ['app.example'] },
      { origins: ['https://a.example/app'] },
      { origins: 'https://a.example' },
      { allowHeaders: ['bad name'] },
    ]) {
      assert.throws(
        () => createHandler(root, { cors: cors as unknown as ServerOptions['cors'] }),
        (err: NodeJS.ErrnoException) => err.code === 'ERR_INVALID_ARG_VALUE' && /"cors\./.test(err.message),
        JSON.stringify(cors),
      );
    }
  });
});
