// sluice/fastify in real Fastify 5 apps, on every engine: bodies
// byte-exact; Fastify's lifecycle kept (headers from @fastify/cors and from
// hooks are sent, onResponse hooks run, missing files reach the not-found
// handler and refusals the error handler); zero-copy when no onSend hook
// can see the payload, and through Fastify as a stream when one can (an
// onSend hook, @fastify/compress); reply.sendFile and reply.download; and
// paths that would let the wildcard route serve files another route
// guards refused as @fastify/static refuses them.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import fastifyCompress from '@fastify/compress';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { copyStats } from '../../server/src/engines/copy';
import sluice from '../../server/src/fastify';
import { fdsUnder, fixtures, sha256 } from '../helpers/fixtures';
import { forEachEngine, type EngineChoice } from '../helpers/server';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with the path exactly as given (no client-side normalising). */
function rawGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

forEachEngine('fastify', (engine: EngineChoice) => {
  const fx = fixtures();
  const zeroCopy = engine !== 'copy';

  describe('in an app without onSend hooks (zero-copy)', () => {
    let app: FastifyInstance;
    let port: number;
    let agent: Agent;
    const completed: number[] = [];

    before(async () => {
      app = Fastify();
      await app.register(fastifyCors, { origin: 'https://app.example' });
      app.addHook('onRequest', async (_request, reply) => {
        reply.header('x-on-request', 'yes');
      });
      app.addHook('preHandler', async (_request, reply) => {
        reply.header('x-pre-handler', 'yes');
      });
      app.addHook('onResponse', async (_request, reply) => {
        completed.push(reply.statusCode);
      });
      app.setNotFoundHandler((request, reply) => {
        void reply.code(404).send({ custom: 'not found', url: request.url });
      });
      app.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
        void reply.code(err.statusCode ?? 500).send({ custom: 'error', status: err.statusCode, message: err.message });
      });
      await app.register(sluice, { root: fx.root, prefix: '/static/', engine });
      app.get('/app/*', (_request, reply) => reply.sendFile('index.html'));
      app.get('/download', (_request, reply) => reply.download('hello.txt', 'greeting.txt'));
      app.get('/coded', (_request, reply) => reply.code(203).header('cache-control', 'no-store').sendFile('hello.txt'));
      port = await listen(app);
      agent = new Agent();
    });
    after(async () => {
      await agent.close();
      await app.close();
    });

    const get = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> => {
      const res = await agent.request({
        origin: `http://127.0.0.1:${port}`,
        path,
        method: method as 'GET',
        headers: { origin: 'https://app.example', ...headers },
      });
      return { status: res.statusCode, headers: res.headers as http.IncomingHttpHeaders, body: Buffer.from(await res.body.arrayBuffer()) };
    };

    it('should serve files byte-exact, whole, ranged and multipart, without copying', async () => {
      const copiedBefore = copyStats.bodies;
      for (const name of ['/hello.txt', '/size-0.bin', '/size-65537.bin', '/size-1048579.bin']) {
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
      if (zeroCopy) assert.equal(copyStats.bodies, copiedBefore, 'no body went through the copy engine');
    });

    it('should send the headers @fastify/cors and the hooks put on the reply, and run onResponse', async () => {
      completed.length = 0;
      const res = await get('/static/size-65537.bin');
      assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(res.headers['x-on-request'], 'yes');
      assert.equal(res.headers['x-pre-handler'], 'yes');
      assert.equal(res.headers['content-length'], '65537');
      assert.ok(res.headers.etag && res.headers['last-modified'] && res.headers.date);
      await get('/static/missing.txt');
      assert.deepEqual(completed, [200, 404]);
    });

    it('should mount a prefix given with its trailing slash', async () => {
      assert.equal((await get('/static/hello.txt')).body.toString(), 'hello, world\n');
      assert.match((await get('/static/')).body.toString(), /<title>root<\/title>/);
      assert.match((await get('/static/dir')).body.toString(), /<title>dir<\/title>/, 'a directory without its slash gets its index');
      assert.equal((await get('/static')).status, 404);
    });

    it('should answer HEAD and 304 like GET', async () => {
      const head = await get('/static/size-65537.bin', {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '65537');
      assert.equal(head.body.length, 0);
      const first = await get('/static/hello.txt');
      const again = await get('/static/hello.txt', { 'if-none-match': String(first.headers.etag) });
      assert.equal(again.status, 304);
      assert.equal(again.headers['access-control-allow-origin'], 'https://app.example');
    });

    it('should give missing files to the not-found handler and refusals to the error handler, with their headers', async () => {
      const missing = await get('/static/missing.txt');
      assert.equal(missing.status, 404);
      assert.deepEqual(JSON.parse(missing.body.toString()), { custom: 'not found', url: '/static/missing.txt' });
      assert.equal(missing.headers['access-control-allow-origin'], 'https://app.example');
      const precondition = await get('/static/hello.txt', { 'if-match': '"nope"' });
      assert.equal(precondition.status, 412);
      assert.equal(JSON.parse(precondition.body.toString()).custom, 'error');
      const unsatisfiable = await get('/static/hello.txt', { range: 'bytes=99-' });
      assert.equal(unsatisfiable.status, 416);
      assert.equal(unsatisfiable.headers['content-range'], 'bytes */13');
    });

    it('should answer reply.sendFile and reply.download', async () => {
      const spa = await get('/app/users/42');
      assert.equal(spa.status, 200);
      assert.match(spa.body.toString(), /<title>root<\/title>/);
      assert.equal(spa.headers['access-control-allow-origin'], 'https://app.example');
      const download = await get('/download');
      assert.equal(download.headers['content-disposition'], 'attachment; filename=greeting.txt');
      assert.equal(download.body.toString(), 'hello, world\n');
    });

    it("should keep the reply's status, and let the file's own fields replace earlier ones, as @fastify/static does", async () => {
      const res = await get('/coded');
      assert.equal(res.status, 203);
      assert.equal(res.headers['cache-control'], 'public, max-age=0');
      assert.equal(res.body.toString(), 'hello, world\n');
    });
  });

  describe('in an app where the payload can be replaced (through Fastify)', () => {
    let app: FastifyInstance;
    let port: number;
    const seen: Array<{ url: string; path?: string; stream: boolean }> = [];

    before(async () => {
      app = Fastify();
      await app.register(fastifyCompress, { threshold: 0 });
      app.addHook('onSend', async (request, reply, payload) => {
        const p = payload as { path?: string; pipe?: unknown } | null;
        seen.push({ url: request.url, path: p?.path, stream: typeof p?.pipe === 'function' });
        if (request.url === '/static/data.json') {
          reply.header('content-length', '8');
          return 'replaced';
        }
        return payload;
      });
      await app.register(sluice, { root: fx.root, prefix: '/static', engine });
      port = await listen(app);
    });
    after(async () => {
      await app.close();
    });

    it('should give onSend hooks the file as a stream with its path, and deliver it byte-exact', async () => {
      seen.length = 0;
      const copiedBefore = copyStats.bodies;
      const res = await rawGet(port, '/static/size-1048579.bin');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '1048579');
      assert.equal(sha256(res.body), sha256(fx.bytes('/size-1048579.bin')));
      assert.deepEqual(seen, [{ url: '/static/size-1048579.bin', path: fx.fileFor(1048579), stream: true }]);
      assert.equal(copyStats.bodies, copiedBefore, 'the stream, not an engine, moved the bytes');
      const ranged = await rawGet(port, '/static/size-1048579.bin', { range: 'bytes=1000-70999' });
      assert.equal(ranged.status, 206);
      assert.ok(ranged.body.equals(fx.bytes('/size-1048579.bin').subarray(1000, 71000)));
      const head = await rawGet(port, '/static/size-65537.bin', {}, 'HEAD');
      assert.equal(head.headers['content-length'], '65537');
    });

    it('should let @fastify/compress compress the body, with the validators kept', async () => {
      const res = await rawGet(port, '/static/size-1048579.bin', { 'accept-encoding': 'gzip' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.ok(res.headers.etag && res.headers['last-modified']);
      assert.equal(sha256(zlib.gunzipSync(res.body)), sha256(fx.bytes('/size-1048579.bin')));
    });

    it('should let a hook replace the payload, and close the file it did not read', async () => {
      const res = await rawGet(port, '/static/data.json');
      assert.equal(res.body.toString(), 'replaced');
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The table may keep its one fd per file; no response holds another.
      assert.ok(fdsUnder(fx.root).filter((f) => f.endsWith('data.json')).length <= 1);
    });
  });

  describe('with a setHeaders that throws', () => {
    it("should answer through Fastify's error handler and keep serving", async () => {
      const app = Fastify();
      const errors: string[] = [];
      app.setErrorHandler((err: Error, _request, reply) => {
        errors.push(err.message);
        void reply.code(500).send('app error');
      });
      await app.register(sluice, {
        root: fx.root,
        engine,
        setHeaders: () => {
          throw new Error('setHeaders failed');
        },
      });
      const port = await listen(app);
      try {
        for (let i = 0; i < 2; i++) {
          const res = await rawGet(port, '/hello.txt');
          assert.equal(res.status, 500);
          assert.equal(res.body.toString(), 'app error');
        }
        assert.deepEqual(errors, ['setHeaders failed', 'setHeaders failed']);
      } finally {
        await app.close();
      }
    });
  });
});

describe('sluice/fastify next to routes that guard a directory', () => {
  const fx = fixtures();
  const probes = [
    '/dir/sub/page.txt',
    '/x/../dir/sub/page.txt',
    '/x/%2e%2e/dir/sub/page.txt',
    '/x/%2E%2E/dir/sub/page.txt',
    '/dir%2Fsub/page.txt',
    '/dir%2fsub%2fpage.txt',
  ];

  /** Statuses of `probes` against an app whose /dir/* answers 401, served by `plugin`. */
  async function statuses(plugin: typeof sluice): Promise<number[]> {
    const app = Fastify();
    app.all('/dir/*', async (_request, reply) => reply.code(401).send('Unauthorized'));
    await app.register(plugin, { root: fx.root });
    const port = await listen(app);
    try {
      const out: number[] = [];
      for (const probe of probes) out.push((await rawGet(port, probe)).status);
      return out;
    } finally {
      await app.close();
    }
  }

  it('should never serve a guarded file through dot segments or encoded slashes, as @fastify/static', async () => {
    const ours = await statuses(sluice);
    assert.deepEqual(ours, [401, 403, 403, 403, 404, 404]);
    assert.deepEqual(ours, await statuses(fastifyStatic as unknown as typeof sluice));
  });
});

describe('sluice/fastify registration', () => {
  it("should refuse a missing root with @fastify/static's error", async () => {
    const app = Fastify();
    await assert.rejects(
      async () => {
        await app.register(sluice, {});
        await app.ready();
      },
      { code: 'FST_STATIC_INVALID_OPTION', message: '"root" option is required' },
    );
    await app.close();
  });

  it('should decorate the reply of the scope it is registered in, as fastify-plugin does', async () => {
    const fx = fixtures();
    const app = Fastify();
    await app.register(sluice, { root: fx.root, serve: false });
    app.get('/page', (_request, reply) => reply.sendFile('dir/sub/page.txt'));
    const res = await app.inject({ method: 'GET', url: '/page' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'sub page\n');
    assert.equal((await app.inject({ method: 'GET', url: '/hello.txt' })).statusCode, 404, 'serve: false registers no route');
    await app.close();
  });

  it("should be what require('sluice/fastify') returns, with @fastify/static's names", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const required = require('../../server/src/fastify') as typeof sluice & Record<string, unknown>;
    assert.equal(typeof required, 'function');
    assert.equal(required.default, required);
    assert.equal(required.fastifyStatic, required);
    assert.equal(required.sluice, required);
    const errors = required.errors as Record<string, new (...args: unknown[]) => Error & { code: string }>;
    assert.equal(new errors.FST_STATIC_INVALID_OPTION_VALUE('list.format', 'must be json or html').message, '"list.format" option must be json or html');
  });
});
