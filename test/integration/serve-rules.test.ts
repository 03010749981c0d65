// serve's features as createServer options, on every engine: header rules,
// rewrites, redirects, clean URLs, trailing slashes, the SPA fallback, CORS,
// directory listings and the 404 page. Bodies that are files are checked
// byte for byte: rules change which file is sent, never how.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'undici';
import type { SluiceOptions } from '../../server/src/index';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { getter, type Reply } from '../helpers/http-client';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

const EVIL = '<img src=x onerror=alert(1)>.txt';

function makeSite(): string {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(path.join(root, 'docs', 'guide'), { recursive: true });
  fs.mkdirSync(path.join(root, 'files', 'nested'), { recursive: true });
  fs.mkdirSync(path.join(root, 'blog'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>shell</title>\n');
  fs.writeFileSync(path.join(root, 'about.html'), 'about page\n');
  fs.writeFileSync(path.join(root, 'docs', 'index.html'), 'docs index\n');
  fs.writeFileSync(path.join(root, 'docs', 'guide', 'intro.md'), '# intro\n');
  fs.writeFileSync(path.join(root, '404.html'), '<p>custom not found</p>\n');
  fs.writeFileSync(path.join(root, 'app.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(root, 'big.bin'), randomBytes(300_000));
  fs.writeFileSync(path.join(root, 'blog', 'post-7.html'), 'post seven\n');
  fs.writeFileSync(path.join(root, 'files', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(root, 'files', EVIL), 'evil name\n');
  fs.writeFileSync(path.join(root, 'files', '.env'), 'SECRET=1\n');
  fs.writeFileSync(path.join(root, 'files', 'private.key'), 'key\n');
  fs.writeFileSync(path.join(root, 'files', 'nested', 'b.txt'), 'b\n');
  return root;
}

function header(r: Reply, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Starts a server per option set, closed after the suite. */
function serving(root: () => string, engine: string, opts: SluiceOptions): (p: string, h?: Record<string, string>, m?: string) => Promise<Reply> {
  let server: TestServer;
  const agent = new Agent({ pipelining: 0 });
  before(async () => {
    server = await startServer(root(), { ...opts, engine: engine as SluiceOptions['engine'] });
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

forEachEngine('serve rules', (engine) => {
  let root = '';
  before(() => {
    root = makeSite();
  });
  const file = (p: string): Buffer => fs.readFileSync(path.join(root, p));

  describe('with header rules', () => {
    const get = serving(() => root, engine, {
      headers: [
        { source: '**/*.md', headers: [{ key: 'X-Doc', value: 'markdown' }] },
        { source: '/app.js', headers: [{ key: 'Cache-Control', value: 'max-age=7200' }] },
        { source: '/about.html', headers: [{ key: 'ETag', value: '"about-v1"' }] },
        { source: '/big.bin', headers: [{ key: 'Last-Modified', value: null }] },
      ],
    });

    it('should add a matching rule’s header and keep the file’s own fields', async () => {
      const r = await get('/docs/guide/intro.md');
      assert.equal(r.status, 200);
      assert.equal(header(r, 'x-doc'), 'markdown');
      assert.match(header(r, 'content-type') ?? '', /^text\/markdown/);
      assert.deepEqual(r.body, file('docs/guide/intro.md'));
    });

    it('should let a rule replace sluice’s Cache-Control', async () => {
      const r = await get('/app.js');
      assert.equal(header(r, 'cache-control'), 'max-age=7200');
    });

    it('should judge If-None-Match by an ETag a rule sets', async () => {
      const r = await get('/about.html');
      assert.equal(header(r, 'etag'), '"about-v1"');
      const again = await get('/about.html', { 'if-none-match': '"about-v1"' });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
    });

    it('should remove a field whose rule value is null, and still send the bytes exactly', async () => {
      const r = await get('/big.bin');
      assert.equal(header(r, 'last-modified'), undefined);
      assert.ok(header(r, 'etag'));
      assert.equal(sha256(r.body), sha256(file('big.bin')));
      const ranged = await get('/big.bin', { range: 'bytes=1000-200999' });
      assert.equal(ranged.status, 206);
      assert.deepEqual(ranged.body, file('big.bin').subarray(1000, 201000));
    });

    it('should add nothing to a file no rule matches', async () => {
      const r = await get('/files/a.txt');
      assert.equal(header(r, 'x-doc'), undefined);
      assert.equal(header(r, 'cache-control'), 'public, max-age=0');
    });
  });

  describe('with rewrites, redirects and clean URLs', () => {
    const get = serving(() => root, engine, {
      cleanUrls: true,
      rewrites: [
        { source: '/posts/:id', destination: '/blog/post-:id.html' },
        { source: '/download/**', destination: '/big.bin' },
      ],
      redirects: [
        { source: '/old/:slug', destination: '/docs/:slug', type: 302 },
        { source: '/gone', destination: 'https://example.com/elsewhere' },
      ],
    });

    it('should serve a rewrite’s destination with its captures', async () => {
      const r = await get('/posts/7');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'post seven\n');
      assert.match(header(r, 'content-type') ?? '', /^text\/html/);
    });

    it('should send a rewritten large file byte for byte', async () => {
      const r = await get('/download/any/thing');
      assert.equal(sha256(r.body), sha256(file('big.bin')));
    });

    it('should redirect with the rule’s status and captures', async () => {
      const r = await get('/old/guide');
      assert.equal(r.status, 302);
      assert.equal(header(r, 'location'), '/docs/guide');
      const external = await get('/gone');
      assert.equal(external.status, 301);
      assert.equal(header(external, 'location'), 'https://example.com/elsewhere');
    });

    it('should serve /about from about.html and /docs from docs/index.html', async () => {
      assert.equal((await get('/about')).body.toString(), 'about page\n');
      assert.equal((await get('/docs')).body.toString(), 'docs index\n');
    });

    it('should redirect /about.html and /docs/index to their clean form', async () => {
      const r = await get('/about.html');
      assert.equal(r.status, 301);
      assert.equal(header(r, 'location'), '/about');
      assert.equal(header(await get('/docs/index'), 'location'), '/docs');
    });

    it('should not let a clean-URL redirect leave the origin', async () => {
      const r = await get('//evil.example/index');
      assert.equal(header(r, 'location'), '/evil.example');
    });

    it('should answer a miss with the 404 page only when asked for one', async () => {
      const r = await get('/nothing-here');
      assert.equal(r.status, 404);
      assert.doesNotMatch(r.body.toString(), /custom not found/);
    });
  });

  describe('with trailingSlash', () => {
    const add = serving(() => root, engine, { trailingSlash: true });
    it('should add the slash to a path without an extension, and collapse repeated slashes', async () => {
      assert.equal(header(await add('/docs'), 'location'), '/docs/');
      assert.equal(header(await add('/docs//guide'), 'location'), '/docs/guide');
      assert.equal((await add('/app.js')).status, 200);
    });
  });

  describe('with single (SPA fallback)', () => {
    const get = serving(() => root, engine, { single: true });

    it('should answer a miss without an extension with index.html, not to be kept stale', async () => {
      const r = await get('/dashboard/settings');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, file('index.html'));
      assert.equal(header(r, 'cache-control'), 'no-cache');
      assert.ok(header(r, 'etag'));
      const again = await get('/dashboard/settings', { 'if-none-match': header(r, 'etag') as string });
      assert.equal(again.status, 304);
    });

    it('should keep a missing /app.js, or any path with an extension, a 404', async () => {
      assert.equal((await get('/missing.js')).status, 404);
      assert.equal((await get('/img/logo.png')).status, 404);
    });

    it('should still serve files that exist', async () => {
      assert.deepEqual((await get('/app.js')).body, file('app.js'));
    });
  });

  describe('with a 404 page', () => {
    const get = serving(() => root, engine, { notFound: '404.html' });
    it('should serve 404.html with status 404 for a miss, ignoring Range and conditionals', async () => {
      const r = await get('/no/such/file.txt', { range: 'bytes=0-3', 'if-none-match': '*' });
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, file('404.html'));
      assert.match(header(r, 'content-type') ?? '', /^text\/html/);
    });
  });

  describe("with etag: 'strong'", () => {
    const get = serving(() => root, engine, { etag: 'strong' });
    it('should send serve’s SHA-1 ETag (extension, dash, bytes) and judge If-None-Match by it', async () => {
      const expected = `"${createHash('sha1').update('.bin').update('-').update(file('big.bin')).digest('hex')}"`;
      const r = await get('/big.bin');
      assert.equal(header(r, 'etag'), expected);
      assert.equal(sha256(r.body), sha256(file('big.bin')));
      assert.equal((await get('/big.bin', { 'if-none-match': expected })).status, 304);
    });
  });

  describe('with cors', () => {
    const get = serving(() => root, engine, { cors: true });

    it('should allow any origin on files and on errors', async () => {
      const r = await get('/app.js', { origin: 'https://a.example' });
      assert.equal(header(r, 'access-control-allow-origin'), '*');
      assert.deepEqual(r.body, file('app.js'));
      assert.equal(header(await get('/missing.js'), 'access-control-allow-origin'), '*');
    });

    it('should answer a preflight', async () => {
      const r = await get(
        '/app.js',
        { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
        'OPTIONS',
      );
      assert.equal(r.status, 204);
      assert.equal(header(r, 'access-control-allow-origin'), '*');
      assert.match(header(r, 'access-control-allow-methods') ?? '', /GET/);
      assert.equal(header(r, 'access-control-allow-headers'), 'range');
    });
  });

  describe('without cors', () => {
    const get = serving(() => root, engine, {});
    it('should send no CORS field and refuse OPTIONS', async () => {
      assert.equal(header(await get('/app.js'), 'access-control-allow-origin'), undefined);
      assert.equal((await get('/app.js', {}, 'OPTIONS')).status, 405);
    });
    it('should list no directory by default', async () => {
      assert.equal((await get('/files/')).status, 404);
    });
  });

  describe('with listing', () => {
    const get = serving(() => root, engine, { listing: true, unlisted: ['*.key'] });

    it('should list a directory as HTML with every name escaped', async () => {
      const r = await get('/files/');
      assert.equal(r.status, 200);
      assert.match(header(r, 'content-type') ?? '', /^text\/html/);
      const html = r.body.toString();
      assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;.txt'));
      assert.ok(!html.includes('<img'));
      assert.ok(html.includes('href="/files/nested/"'));
      assert.ok(html.includes('a.txt'));
    });

    it('should hide dotfiles and unlisted names', async () => {
      const html = (await get('/files/')).body.toString();
      assert.ok(!html.includes('.env'));
      assert.ok(!html.includes('private.key'));
    });

    it('should answer JSON when asked for it', async () => {
      const r = await get('/files/', { accept: 'application/json' });
      assert.match(header(r, 'content-type') ?? '', /^application\/json/);
      const listing = JSON.parse(r.body.toString()) as { files: { base: string; type: string; bytes?: number }[] };
      const names = listing.files.map((f) => f.base);
      assert.deepEqual(
        names,
        ['..', 'nested/', EVIL, 'a.txt'].sort((a, b) => (a === '..' ? -1 : b === '..' ? 1 : a === 'nested/' ? -1 : b === 'nested/' ? 1 : a < b ? -1 : 1)),
      );
      assert.equal(listing.files.find((f) => f.base === 'a.txt')?.bytes, 2);
    });

    it('should still serve index.html where there is one, and redirect a directory to its slash', async () => {
      assert.equal((await get('/docs/')).body.toString(), 'docs index\n');
      assert.equal((await get('/files')).status, 301);
    });

    it('should serve a listed file', async () => {
      assert.equal((await get(`/files/${encodeURIComponent(EVIL)}`)).body.toString(), 'evil name\n');
    });
  });
});
