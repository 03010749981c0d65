// sluice/nest in real NestJS 11 apps, under the Express and the Fastify
// platform, on every engine: what @nestjs/serve-static's express.static
// and @fastify/static do not give the SPA fallback (an ETag and 304, ranges),
// precompressed siblings, the render path, exclude, serveRoot, bodies
// byte-identical, zero-copy, and a fallback whose client leaves mid-body.
import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Agent } from 'undici';
import * as zlib from 'node:zlib';
import { openCompressCache } from '../../server/src/compress-cache';
import { copyStats } from '../../server/src/engines/copy';
import { SluiceServeStaticModule, type ServeStaticModuleOptions } from '../../server/src/nest';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { forEachEngine, type EngineChoice } from '../helpers/server';

type Platform = 'express' | 'fastify';

interface Site {
  root: string;
  /** The compress cache's directory (Express only). */
  cache: string;
  css: Buffer;
  assets: string;
  bytes(file: string): Buffer;
}

let site: Site | null = null;

/** Two roots: the app's (small index.html, a 1 MiB file, app.js with .br and .gz) and /assets' (a 24 MiB index.html). */
function makeSite(): Site {
  if (site) return site;
  const base = scratchDir();
  const root = path.join(base, 'client');
  const assets = path.join(base, 'assets');
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.mkdirSync(assets);
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>spa</title>\n');
  fs.writeFileSync(path.join(root, 'size-1048579.bin'), randomBytes(1048579));
  fs.writeFileSync(path.join(root, 'app.js'), 'console.log("identity");\n'.repeat(200));
  fs.writeFileSync(path.join(root, 'app.js.br'), randomBytes(301));
  fs.writeFileSync(path.join(root, 'app.js.gz'), randomBytes(402));
  fs.writeFileSync(path.join(root, 'dir', 'page.txt'), 'a page\n');
  let css = '';
  for (let i = 0; css.length < 40_000; i++) css += `.c${(i * 7919) % 5003} { margin: ${i % 97}px; }\n`;
  fs.writeFileSync(path.join(root, 'site.css'), css);
  fs.writeFileSync(path.join(assets, 'index.html'), randomBytes(24 * 1024 * 1024));
  fs.writeFileSync(path.join(assets, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  fs.writeFileSync(path.join(base, 'outside.txt'), 'outside both roots\n');
  fs.symlinkSync(path.join(base, 'outside.txt'), path.join(root, 'link-out.txt'));
  site = { root, assets, cache: path.join(base, 'compressed'), css: Buffer.from(css), bytes: (file) => fs.readFileSync(path.join(base, file)) };
  return site;
}

class AppModule {}

/** The module's options for `platform`: /assets with its own render path first, then the app's root with exclude. */
function moduleOptions(platform: Platform, engine: EngineChoice, s: Site): ServeStaticModuleOptions[] {
  const fastify = platform === 'fastify';
  return [
    {
      rootPath: s.assets,
      serveRoot: '/assets',
      renderPath: fastify ? '/app/*' : '/app/{*any}',
      serveStaticOptions: { engine, fallthrough: true },
    },
    {
      rootPath: s.root,
      exclude: ['/api/{*any}'],
      serveStaticOptions: {
        engine,
        maxAge: '1h',
        fallthrough: true,
        symlinks: 'within-root',
        ...(fastify ? { preCompressed: true, decorateReply: false } : { compress: { dir: s.cache } }),
      },
    },
  ];
}

async function startApp(platform: Platform, engine: EngineChoice): Promise<{ app: INestApplication; base: string }> {
  const mod = { module: AppModule, imports: [SluiceServeStaticModule.forRoot(...moduleOptions(platform, engine, makeSite()))] };
  const app =
    platform === 'fastify' ? await NestFactory.create(mod, new FastifyAdapter(), { logger: false }) : await NestFactory.create(mod, { logger: false });
  const instance = app.getHttpAdapter().getInstance() as { get(p: string, h: (req: unknown, res: { send(b: string): void }) => void): void };
  instance.get('/api/hello', (_req, res) => void res.send('hello from the app'));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as net.AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

/** Sends GET `target`, reads until the head is in, and resets the connection: the body is still on its way. */
function leaveAfterHead(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.resetAndDestroy();
      resolve(head.slice(0, end));
    });
    socket.on('error', reject);
  });
}

for (const platform of ['express', 'fastify'] as const) {
  forEachEngine(`sluice/nest under ${platform}`, (engine) => {
    const zeroCopy = engine !== 'copy';
    let app: INestApplication;
    let base: string;
    let agent: Agent;
    let s: Site;

    before(async function () {
      this.timeout(30_000);
      s = makeSite();
      ({ app, base } = await startApp(platform, engine));
      agent = new Agent({ connections: 2 });
    });
    after(async () => {
      await agent.close();
      await app.close();
    });

    const get = async (target: string, headers: Record<string, string> = {}, method = 'GET') => {
      const res = await agent.request({ origin: base, path: target, method: method as 'GET', headers });
      return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
    };

    it('should serve files byte-identical, without copying on a zero-copy engine', async () => {
      const copiedBefore = copyStats.bodies;
      for (const [target, file] of [
        ['/size-1048579.bin', 'client/size-1048579.bin'],
        ['/index.html', 'client/index.html'],
        ['/dir/page.txt', 'client/dir/page.txt'],
        ['/assets/logo.svg', 'assets/logo.svg'],
      ]) {
        const res = await get(target);
        assert.equal(res.status, 200, target);
        assert.equal(sha256(res.body), sha256(s.bytes(file)), target);
      }
      assert.equal((await get('/size-1048579.bin')).headers['cache-control'], 'public, max-age=3600');
      if (zeroCopy) assert.equal(copyStats.bodies, copiedBefore, 'no body went through the copy engine');
    });

    it('should answer If-None-Match and If-Modified-Since with 304', async () => {
      const first = await get('/size-1048579.bin');
      assert.ok(first.headers.etag, 'an ETag');
      const again = await get('/size-1048579.bin', { 'if-none-match': String(first.headers.etag) });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      assert.equal((await get('/size-1048579.bin', { 'if-modified-since': String(first.headers['last-modified']) })).status, 304);
    });

    it('should answer a failed If-Match with 412', async () => {
      const res = await get('/size-1048579.bin', { 'if-match': '"not-this-one"' });
      assert.equal(res.status, 412);
      assert.ok(!res.body.includes(s.bytes('client/size-1048579.bin').subarray(0, 64)), 'no file bytes');
    });

    it('should refuse a symbolic link out of the root under symlinks: within-root', async () => {
      const res = await get('/link-out.txt');
      assert.ok(!res.body.toString().includes('outside both roots'), 'the file behind the link is not sent');
      if (platform === 'fastify') {
        assert.equal(res.status, 403);
      } else {
        // serve-static's fallthrough: a refusal below 500 goes on, here to the SPA fallback.
        assert.equal(res.status, 200);
        assert.equal(sha256(res.body), sha256(s.bytes('client/index.html')));
      }
    });

    it('should send single and multipart ranges exactly', async () => {
      const data = s.bytes('client/size-1048579.bin');
      const one = await get('/size-1048579.bin', { range: 'bytes=1000-200999' });
      assert.equal(one.status, 206);
      assert.equal(one.headers['content-range'], 'bytes 1000-200999/1048579');
      assert.ok(one.body.equals(data.subarray(1000, 201000)));
      const many = await get('/size-1048579.bin', { range: 'bytes=0-9,500000-500099' });
      assert.equal(many.status, 206);
      assert.match(String(many.headers['content-type']), /^multipart\/byteranges; boundary=/);
      assert.ok(many.body.includes(data.subarray(500000, 500100)));
      assert.equal((await get('/size-1048579.bin', { range: 'bytes=2000000-' })).status, 416);
    });

    it('should send precompressed siblings to clients that accept them, with Vary', async () => {
      const br = await get('/app.js', { 'accept-encoding': 'br, gzip' });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.match(String(br.headers.vary), /accept-encoding/i);
      assert.equal(sha256(br.body), sha256(s.bytes('client/app.js.br')));
      const gz = await get('/app.js', { 'accept-encoding': 'gzip' });
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(sha256(gz.body), sha256(s.bytes('client/app.js.gz')));
      const plain = await get('/app.js', { 'accept-encoding': 'identity' });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(sha256(plain.body), sha256(s.bytes('client/app.js')));
      assert.match(String(plain.headers['content-type']), /javascript/);
    });

    if (platform === 'express') {
      it('should compress a compressible file once and serve the cached variant with its own ETag and ranges', async () => {
        const first = await get('/site.css', { 'accept-encoding': 'br' });
        assert.equal(first.headers.vary, 'Accept-Encoding');
        const cache = openCompressCache({ dir: s.cache, maxBytes: 512 * 1024 * 1024 }, s.root);
        assert.ok(cache);
        await cache.idle();
        const br = await get('/site.css', { 'accept-encoding': 'br' });
        assert.equal(br.headers['content-encoding'], 'br');
        assert.ok(br.body.length < s.css.length / 2);
        assert.ok(zlib.brotliDecompressSync(br.body).equals(s.css));
        assert.match(String(br.headers.etag), /-br"$/);
        const part = await get('/site.css', { 'accept-encoding': 'br', range: 'bytes=10-99' });
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(br.body.subarray(10, 100)));
      });
    }

    it('should answer other paths under the render path with index.html, with an ETag, 304 and ranges', async () => {
      const index = s.bytes('client/index.html');
      for (const target of ['/some/client/route', '/missing.png', '/dir/missing']) {
        const res = await get(target);
        assert.equal(res.status, 200, target);
        assert.match(String(res.headers['content-type']), /^text\/html/);
        assert.equal(sha256(res.body), sha256(index), target);
      }
      const first = await get('/some/client/route');
      assert.ok(first.headers.etag, 'the fallback has an ETag');
      assert.equal((await get('/other/route', { 'if-none-match': String(first.headers.etag) })).status, 304);
      const part = await get('/other/route', { range: 'bytes=2-5' });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(index.subarray(2, 6)));
    });

    it('should leave excluded paths to the application', async () => {
      assert.equal((await get('/api/hello')).body.toString(), 'hello from the app');
      const missing = await get('/api/missing');
      assert.equal(missing.status, 404);
      assert.equal(JSON.parse(missing.body.toString()).message, 'Cannot GET /api/missing');
    });

    it('should serve serveRoot with its own files and its own render path', async () => {
      const logo = await get('/assets/logo.svg');
      assert.match(String(logo.headers['content-type']), /^image\/svg\+xml/);
      const fallback = await get('/assets/app/deep/route');
      assert.equal(fallback.status, 200);
      assert.equal(sha256(fallback.body), sha256(s.bytes('assets/index.html')));
      const outside = await get('/assets/elsewhere');
      assert.equal(sha256(outside.body), sha256(s.bytes('client/index.html')), 'outside /assets/app: the next registration answers');
    });

    it('should answer HEAD with the head alone', async () => {
      const res = await get('/size-1048579.bin', {}, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '1048579');
      assert.equal(res.body.length, 0);
    });

    it('should not answer twice when the client leaves during the fallback body', async () => {
      const { port } = app.getHttpServer().address() as net.AddressInfo;
      for (let i = 0; i < 3; i++) {
        const head = await leaveAfterHead(port, '/assets/app/route');
        assert.match(head, /^HTTP\/1\.1 200 /);
        assert.match(head, /content-length: 25165824/i);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await get('/dir/page.txt')).body.toString(), 'a page\n', 'the app still answers');
    });
  });
}

/** A factory class for forRootAsync's useClass: Nest builds it (no constructor arguments, so no metadata needed). */
class OptionsFactory {
  createLoggerOptions(): ServeStaticModuleOptions[] {
    // decorateReply: false, as with @fastify/static: the first registration decorates the reply.
    return [{ rootPath: makeSite().root, serveRoot: '/by-class', serveStaticOptions: { fallthrough: true, decorateReply: false } }];
  }
}

for (const platform of ['express', 'fastify'] as const) {
  describe(`sluice/nest under ${platform}: the module's options`, () => {
    const apps: INestApplication[] = [];
    const agent = new Agent();
    after(async () => {
      await agent.close();
      for (const app of apps) await app.close();
    });

    async function start(imports: unknown[], prefix?: string): Promise<string> {
      const mod = { module: AppModule, imports };
      const app =
        platform === 'fastify'
          ? await NestFactory.create(mod as never, new FastifyAdapter(), { logger: false })
          : await NestFactory.create(mod as never, { logger: false });
      if (prefix !== undefined) app.setGlobalPrefix(prefix);
      apps.push(app);
      await app.listen(0, '127.0.0.1');
      return `http://127.0.0.1:${(app.getHttpServer().address() as net.AddressInfo).port}`;
    }

    const get = async (base: string, target: string) => {
      const res = await agent.request({ origin: base, path: target, method: 'GET' });
      return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
    };

    it('should put serveRoot behind the global prefix with useGlobalPrefix', async () => {
      const s = makeSite();
      const base = await start([SluiceServeStaticModule.forRoot({ rootPath: s.root, serveRoot: '/static', useGlobalPrefix: true })], 'v1');
      assert.equal((await get(base, '/v1/static/dir/page.txt')).body.toString(), 'a page\n');
      assert.equal((await get(base, '/static/dir/page.txt')).status, 404);
    });

    it('should take its options from forRootAsync: a factory with injected providers, and a class', async () => {
      const s = makeSite();
      const base = await start([
        SluiceServeStaticModule.forRootAsync({
          useFactory: (root: string) => [{ rootPath: root, serveRoot: '/by-factory' }],
          inject: ['SITE_ROOT'],
          extraProviders: [{ provide: 'SITE_ROOT', useValue: s.root }],
        }),
        SluiceServeStaticModule.forRootAsync({ useClass: OptionsFactory }),
      ]);
      assert.equal((await get(base, '/by-factory/dir/page.txt')).body.toString(), 'a page\n');
      assert.equal((await get(base, '/by-class/dir/page.txt')).body.toString(), 'a page\n');
      const spa = await get(base, '/by-class/client/route');
      assert.equal(spa.status, 200);
      assert.equal(sha256(spa.body), sha256(s.bytes('client/index.html')));
    });

    it('should call setHeaders for files and for the SPA fallback', async () => {
      const s = makeSite();
      type Target = { setHeader?: (n: string, v: string) => void; header?: (n: string, v: string) => void };
      const setHeaders = (res: Target, file: string) => {
        if (typeof res.setHeader === 'function') res.setHeader('x-file', path.basename(file));
        else res.header?.('x-file', path.basename(file));
      };
      const base = await start([
        SluiceServeStaticModule.forRoot({
          rootPath: s.root,
          serveStaticOptions: { setHeaders, fallthrough: true, ...(platform === 'fastify' ? { decorateReply: false } : {}) },
        }),
      ]);
      assert.equal((await get(base, '/dir/page.txt')).headers['x-file'], 'page.txt');
      const spa = await get(base, '/client/route');
      assert.equal(spa.status, 200);
      assert.equal(spa.headers['x-file'], 'index.html');
    });

    it('should answer 404 without a file-system path when the root has no index.html', async () => {
      const empty = scratchDir();
      const base = await start([
        SluiceServeStaticModule.forRoot({ rootPath: empty, serveStaticOptions: { setHeaders: () => undefined, fallthrough: true, decorateReply: false } }),
      ]);
      const res = await get(base, '/client/route');
      assert.equal(res.status, 404);
      assert.equal(JSON.parse(res.body.toString()).statusCode, 404);
      assert.ok(!res.body.toString().includes(empty), res.body.toString());
    });
  });
}

describe('sluice/nest in an application context (no HTTP adapter)', () => {
  it('should mount nothing and start', async () => {
    const ctx = await NestFactory.createApplicationContext(
      { module: AppModule, imports: [SluiceServeStaticModule.forRoot({ rootPath: makeSite().root })] },
      { logger: false },
    );
    await ctx.init();
    await ctx.close();
  });
});
