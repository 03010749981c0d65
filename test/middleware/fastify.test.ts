// The `sluice/fastify` plugin in a real Fastify 5 app, on every engine:
// bodies byte-exact, the response hijacked only when sluice answers, and
// what it does not answer handed back to Fastify's not-found and error
// handlers.
import { strict as assert } from 'node:assert';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import sluice from '../../server/src/fastify';
import { fixtures, sha256 } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';

forEachEngine('fastify', (engine) => {
  const fx = fixtures();
  let app: FastifyInstance;
  let base: string;
  let agent: Agent;
  const completed: number[] = [];

  before(async () => {
    app = Fastify();
    app.addHook('onResponse', async (_request, reply) => {
      completed.push(reply.statusCode);
    });
    app.get('/api/ping', async () => ({ pong: true }));
    app.setNotFoundHandler((request, reply) => {
      void reply.code(404).send({ custom: 'not found', url: request.url });
    });
    app.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
      void reply.code(err.statusCode ?? 500).send({ custom: 'error', status: err.statusCode, message: err.message });
    });
    await app.register(sluice, { root: fx.root, prefix: '/static', engine });
    await app.register(sluice, { root: fx.root, prefix: '/strict', engine, fallthrough: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    assert.ok(address && typeof address === 'object');
    base = `http://127.0.0.1:${address.port}`;
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await app.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await agent.request({ origin: base, path, method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  it('should serve files byte-exact, whole and ranged', async () => {
    for (const name of ['/hello.txt', '/size-0.bin', '/size-4095.bin', '/size-1048579.bin']) {
      const res = await get(`/static${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(sha256(res.body), sha256(fx.bytes(name)), name);
    }
    const data = fx.bytes('/size-1048579.bin');
    const ranged = await get('/static/size-1048579.bin', { range: 'bytes=65536-131071' });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.body.equals(data.subarray(65536, 131072)));
    const many = await get('/static/size-1048579.bin', { range: 'bytes=0-0,-1' });
    assert.equal(many.status, 206);
    assert.match(String(many.headers['content-type']), /^multipart\/byteranges; boundary=/);
    assert.equal(many.headers['content-length'], String(many.body.length));
  });

  it('should answer HEAD and 304 like GET', async () => {
    const head = await get('/static/size-65537.bin', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '65537');
    assert.equal(head.body.length, 0);
    const first = await get('/static/hello.txt');
    assert.equal((await get('/static/hello.txt', { 'if-none-match': String(first.headers.etag) })).status, 304);
  });

  it('should redirect the prefix and directories to their slash form', async () => {
    const prefix = await get('/static?x=1');
    assert.equal(prefix.status, 301);
    assert.equal(prefix.headers.location, '/static/?x=1');
    assert.equal((await get('/static/dir')).headers.location, '/static/dir/');
    assert.match((await get('/static/')).body.toString(), /<title>root<\/title>/);
    assert.match((await get('/static/dir/')).body.toString(), /<title>dir<\/title>/);
  });

  it("should give missing files to Fastify's not-found handler", async () => {
    const res = await get('/static/missing.txt');
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.body.toString()), { custom: 'not found', url: '/static/missing.txt' });
    assert.equal(JSON.parse((await get('/static/../outside.txt')).body.toString()).custom, 'not found');
  });

  it("should give errors to Fastify's error handler, with status and headers and no path", async () => {
    const precondition = await get('/static/hello.txt', { 'if-match': '"nope"' });
    assert.equal(precondition.status, 412);
    assert.equal(JSON.parse(precondition.body.toString()).custom, 'error');
    const unsatisfiable = await get('/static/hello.txt', { range: 'bytes=99-' });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers['content-range'], 'bytes */13');
    const strict = await get('/strict/missing.txt');
    assert.equal(strict.status, 404);
    const body = JSON.parse(strict.body.toString()) as { custom: string; message: string };
    assert.equal(body.custom, 'error');
    assert.match(body.message, /^ENOENT/);
    assert.ok(!body.message.includes(fx.root), body.message);
  });

  it('should leave other routes alone and still run onResponse hooks', async () => {
    completed.length = 0;
    assert.equal((await get('/api/ping')).body.toString(), '{"pong":true}');
    await get('/static/hello.txt');
    await get('/static/missing');
    assert.deepEqual(completed, [200, 200, 404]);
  });
});

describe('sluice/fastify registration', () => {
  it("should fail registration with serve-static's error for a missing root", async () => {
    const app = Fastify();
    await assert.rejects(async () => {
      await app.register(sluice, {} as { root: string });
      await app.ready();
    }, /root path required/);
    await app.close();
  });

  it('should serve from / without a prefix', async () => {
    const fx = fixtures();
    const app = Fastify();
    await app.register(sluice, { root: fx.root });
    const res = await app.inject({ method: 'GET', url: '/hello.txt' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'hello, world\n');
    const index = await app.inject({ method: 'GET', url: '/' });
    assert.match(index.body, /<title>root<\/title>/);
    await app.close();
  });

  it("should be what require('sluice/fastify') returns", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const required = require('../../server/src/fastify') as typeof sluice & { default: typeof sluice; sluice: typeof sluice };
    assert.equal(typeof required, 'function');
    assert.equal(required.default, required);
    assert.equal(required.sluice, required);
  });
});
