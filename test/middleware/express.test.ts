// serveStatic inside a real Express 5 app, on every engine: mounted and
// unmounted, in front of routes and behind them, bodies byte-exact whole,
// ranged and multipart, kept-alive connections, and errors that reach the
// app's error handler with their status and no path.
import { strict as assert } from 'node:assert';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import { Agent } from 'undici';
import { serveStatic } from '../../server/src/index';
import { fixtures, sha256 } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';

forEachEngine('express', (engine) => {
  const fx = fixtures();
  let server: http.Server;
  let base: string;
  let agent: Agent;
  const errors: Array<{ status?: number; message: string; stack?: string }> = [];

  before(async () => {
    const app = express();
    app.get('/api/ping', (_req, res) => {
      res.json({ pong: true });
    });
    app.use('/static', serveStatic(fx.root, { engine, maxAge: '1h' }));
    app.use('/strict', serveStatic(fx.root, { engine, fallthrough: false }));
    app.use(serveStatic(fx.root, { engine, index: false }));
    app.get('/after/:name', (req, res) => {
      res.send(`route ${req.params.name}`);
    });
    app.use((_req, res) => {
      res.status(404).send('app 404');
    });
    const onError: ErrorRequestHandler = (err: Error & { status?: number }, _req, res, _next) => {
      errors.push({ status: err.status, message: err.message, stack: err.stack });
      res.status(err.status ?? 500).send(`app error ${err.status}`);
    };
    app.use(onError);
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    agent = new Agent({ connections: 2 });
  });
  after(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await agent.request({ origin: base, path, method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  it('should serve files under the mount point, byte-exact', async () => {
    for (const name of ['/hello.txt', '/size-0.bin', '/size-65537.bin', '/size-1048579.bin']) {
      const res = await get(`/static${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers['cache-control'], 'public, max-age=3600');
      assert.equal(res.headers['x-powered-by'], 'Express');
      assert.equal(sha256(res.body), sha256(fx.bytes(name)), name);
    }
  });

  it('should send ranges and multipart ranges exactly', async () => {
    const data = fx.bytes('/size-1048579.bin');
    const one = await get('/static/size-1048579.bin', { range: 'bytes=1000-200999' });
    assert.equal(one.status, 206);
    assert.equal(one.headers['content-range'], 'bytes 1000-200999/1048579');
    assert.ok(one.body.equals(data.subarray(1000, 201000)));
    const many = await get('/static/size-1048579.bin', { range: 'bytes=0-9,500000-500099,-7' });
    assert.equal(many.status, 206);
    const boundary = /boundary=(\S+)/.exec(String(many.headers['content-type']))?.[1];
    assert.ok(boundary);
    const text = many.body.toString('latin1');
    assert.equal(text.split(`--${boundary}\r\n`).length - 1, 3);
    assert.ok(many.body.includes(data.subarray(500000, 500100)));
    assert.ok(text.endsWith(`\r\n--${boundary}--\r\n`));
  });

  it('should answer conditionals', async () => {
    const first = await get('/static/hello.txt');
    assert.equal((await get('/static/hello.txt', { 'if-none-match': String(first.headers.etag) })).status, 304);
    assert.equal((await get('/static/hello.txt', { 'if-modified-since': String(first.headers['last-modified']) })).status, 304);
  });

  it('should leave routes before and after it alone', async () => {
    assert.equal((await get('/api/ping')).body.toString(), '{"pong":true}');
    assert.equal((await get('/after/x')).body.toString(), 'route x');
    assert.equal((await get('/after/x', {}, 'POST')).body.toString(), 'app 404');
  });

  it('should fall through to the app for missing files and other methods', async () => {
    assert.equal((await get('/static/missing.txt')).body.toString(), 'app 404');
    assert.equal((await get('/static/hello.txt', {}, 'DELETE')).body.toString(), 'app 404');
    assert.equal((await get('/static/.secret')).body.toString(), 'app 404');
  });

  it('should redirect a directory relative to the mount point', async () => {
    const res = await get('/static/dir');
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, '/static/dir/');
    const mountPoint = await get('/static');
    assert.equal(mountPoint.status, 301);
    assert.equal(mountPoint.headers.location, '/static/');
    assert.match((await get('/static/')).body.toString(), /<title>root<\/title>/);
  });

  it('should pass a directory on when index is off', async () => {
    assert.equal((await get('/dir/')).body.toString(), 'app 404');
  });

  it('should hand errors to the error handler, with status and without a path', async () => {
    errors.length = 0;
    assert.equal((await get('/strict/missing.txt')).body.toString(), 'app error 404');
    assert.equal((await get('/static/hello.txt', { 'if-match': '"nope"' })).body.toString(), 'app error 412');
    const unsatisfiable = await get('/static/hello.txt', { range: 'bytes=100-' });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers['content-range'], 'bytes */13');
    assert.deepEqual(
      errors.map((e) => e.status),
      [404, 412, 416],
    );
    for (const e of errors) {
      assert.ok(!e.message.includes(fx.root) && !String(e.stack).includes(fx.root), e.message);
    }
  });

  it('should keep one connection for a mix of files, errors and routes', async () => {
    for (let i = 0; i < 30; i++) {
      const which = i % 3;
      if (which === 0) assert.equal(sha256((await get('/static/size-65537.bin')).body), sha256(fx.bytes('/size-65537.bin')));
      else if (which === 1) assert.equal((await get('/api/ping')).status, 200);
      else assert.equal((await get(`/static/missing-${i}`)).status, 404);
    }
  });
});
