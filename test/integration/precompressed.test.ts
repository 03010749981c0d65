// Precompressed variants on every engine: x.br / x.zst / x.gz next to x,
// chosen by Accept-Encoding, with the original's type, Content-Encoding,
// Vary, an ETag per variant, and ranges over the variant's bytes.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Agent } from 'undici';
import type { SluiceOptions } from '../../server/src/index';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

interface Tree {
  root: string;
  bytes(name: string): Buffer;
}

function makeTree(): Tree {
  const root = scratchDir();
  const write = (name: string, data: Buffer | string): void => {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), data);
  };
  const js = Buffer.from('export const answer = 42;\n'.repeat(2000));
  write('app.js', js);
  write('app.js.gz', zlib.gzipSync(js));
  write('app.js.br', zlib.brotliCompressSync(js));
  // Not real zstd (Node 20 cannot make it): the server never looks inside.
  write('app.js.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(300)]));
  const css = Buffer.from('body { margin: 0 }\n'.repeat(500));
  write('style.css', css);
  write('style.css.gz', zlib.gzipSync(css));
  write('plain.txt', 'no variants here\n');
  write('index.html', '<!DOCTYPE html><title>home</title>\n');
  write('index.html.br', zlib.brotliCompressSync(Buffer.from('<!DOCTYPE html><title>home</title>\n')));
  // A big variant, to check bytes on every engine.
  write('big.bin', randomBytes(64));
  write('big.bin.gz', randomBytes(3 * 1024 * 1024 + 17));
  return { root, bytes: (name) => fs.readFileSync(path.join(root, name)) };
}

forEachEngine('precompressed', (engine) => {
  const tree = makeTree();
  const servers: TestServer[] = [];
  let server: TestServer;
  let agent: Agent;
  before(async () => {
    server = await startServer(tree.root, { engine });
    servers.push(server);
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  const get = async (url: string, path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await agent.request({ origin: url, path, method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  const fetch = (path: string, headers: Record<string, string> = {}, method = 'GET') => get(server.url, path, headers, method);
  const withOptions = async (opts: SluiceOptions): Promise<string> => {
    const own = await startServer(tree.root, { engine, ...opts });
    servers.push(own);
    return own.url;
  };

  describe('negotiation', () => {
    const cases: Array<[string | undefined, string | null]> = [
      [undefined, null],
      ['', null],
      ['identity', null],
      ['gzip', 'gzip'],
      ['x-gzip', 'gzip'],
      ['gzip, deflate, br, zstd', 'br'],
      ['zstd', 'zstd'],
      ['zstd, gzip', 'zstd'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=0, zstd;q=0, gzip;q=0.1', 'gzip'],
      ['gzip;q=0.5, identity', null],
      ['*', 'br'],
      ['*;q=0.5, br;q=0', 'zstd'],
      ['deflate', null],
      // Nothing acceptable: the original anyway, never 406.
      ['deflate, identity;q=0', null],
      ['*;q=0', null],
    ];
    for (const [accept, coding] of cases) {
      it(`should answer Accept-Encoding ${JSON.stringify(accept)} with ${coding ?? 'the original'}`, async () => {
        const res = await fetch('/app.js', accept === undefined ? {} : { 'accept-encoding': accept });
        assert.equal(res.status, 200);
        assert.equal(res.headers.vary, 'Accept-Encoding');
        assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
        const file = coding === null ? 'app.js' : `app.js.${{ br: 'br', zstd: 'zst', gzip: 'gz' }[coding]}`;
        assert.equal(res.headers['content-encoding'], coding ?? undefined);
        assert.equal(res.headers['content-length'], String(tree.bytes(file).length));
        assert.ok(res.body.equals(tree.bytes(file)), `body of ${file}`);
      });
    }

    it('should decode to the original', async () => {
      const gz = await fetch('/app.js', { 'accept-encoding': 'gzip' });
      const br = await fetch('/app.js', { 'accept-encoding': 'br' });
      assert.ok(zlib.gunzipSync(gz.body).equals(tree.bytes('app.js')));
      assert.ok(zlib.brotliDecompressSync(br.body).equals(tree.bytes('app.js')));
    });

    it('should fall back to the original when the preferred coding has no file', async () => {
      const res = await fetch('/style.css', { 'accept-encoding': 'br' });
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, 'Accept-Encoding');
      assert.equal((await fetch('/style.css', { 'accept-encoding': 'br, gzip' })).headers['content-encoding'], 'gzip');
    });

    it('should send no Vary for a file without variants', async () => {
      const res = await fetch('/plain.txt', { 'accept-encoding': 'gzip, br' });
      assert.equal(res.headers.vary, undefined);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.body.toString(), 'no variants here\n');
    });

    it('should serve a variant of an index file', async () => {
      const res = await fetch('/', { 'accept-encoding': 'br' });
      assert.equal(res.headers['content-encoding'], 'br');
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.ok(res.body.equals(tree.bytes('index.html.br')));
    });

    it('should serve a variant requested by its own name as itself', async () => {
      const res = await fetch('/app.js.gz', { 'accept-encoding': 'gzip' });
      assert.equal(res.headers['content-type'], 'application/gzip');
      assert.equal(res.headers['content-encoding'], undefined);
      assert.ok(res.body.equals(tree.bytes('app.js.gz')));
    });

    it('should send a large variant exactly', async () => {
      const res = await fetch('/big.bin', { 'accept-encoding': 'gzip' });
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(sha256(res.body), sha256(tree.bytes('big.bin.gz')));
    });

    it("should answer HEAD with the variant's headers", async () => {
      const res = await fetch('/app.js', { 'accept-encoding': 'br' }, 'HEAD');
      assert.equal(res.headers['content-encoding'], 'br');
      assert.equal(res.headers['content-length'], String(tree.bytes('app.js.br').length));
      assert.equal(res.body.length, 0);
    });
  });

  describe('validators', () => {
    it('should give every representation its own ETag', async () => {
      const tags = new Set<string>();
      for (const accept of ['identity', 'gzip', 'br', 'zstd']) {
        tags.add(String((await fetch('/app.js', { 'accept-encoding': accept })).headers.etag));
      }
      assert.equal(tags.size, 4, [...tags].join(' '));
      assert.match(String((await fetch('/app.js', { 'accept-encoding': 'gzip' })).headers.etag), /^W\/"[0-9a-f]+-[0-9a-f]+-gzip"$/);
    });

    it('should answer 304 only to the ETag of the variant it would send', async () => {
      const gz = await fetch('/app.js', { 'accept-encoding': 'gzip' });
      const etag = String(gz.headers.etag);
      const again = await fetch('/app.js', { 'accept-encoding': 'gzip', 'if-none-match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.headers.vary, 'Accept-Encoding');
      assert.equal(again.headers['content-encoding'], undefined);
      assert.equal((await fetch('/app.js', { 'accept-encoding': 'br', 'if-none-match': etag })).status, 200);
      assert.equal((await fetch('/app.js', { 'if-none-match': etag })).status, 200);
    });

    it('should answer 412 to an If-Match of another variant', async () => {
      const br = await fetch('/app.js', { 'accept-encoding': 'br' });
      assert.equal((await fetch('/app.js', { 'accept-encoding': 'gzip', 'if-match': String(br.headers.etag) })).status, 412);
      assert.equal((await fetch('/app.js', { 'accept-encoding': 'br', 'if-match': String(br.headers.etag) })).status, 200);
    });
  });

  describe('with Range request', () => {
    it("should apply a range to the variant's bytes", async () => {
      const gz = tree.bytes('big.bin.gz');
      const res = await fetch('/big.bin', { 'accept-encoding': 'gzip', range: 'bytes=1000-2000999' });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(res.headers['content-range'], `bytes 1000-2000999/${gz.length}`);
      assert.ok(res.body.equals(gz.subarray(1000, 2001000)));
    });

    it("should honour If-Range with the variant's ETag", async () => {
      const etag = String((await fetch('/app.js', { 'accept-encoding': 'br' })).headers.etag);
      assert.equal((await fetch('/app.js', { 'accept-encoding': 'br', range: 'bytes=0-9', 'if-range': etag })).status, 206);
      assert.equal((await fetch('/app.js', { 'accept-encoding': 'gzip', range: 'bytes=0-9', 'if-range': etag })).status, 200);
    });

    it("should answer 416 against the variant's size", async () => {
      const size = tree.bytes('app.js.br').length;
      const res = await fetch('/app.js', { 'accept-encoding': 'br', range: `bytes=${size}-` });
      assert.equal(res.status, 416);
      assert.equal(res.headers['content-range'], `bytes */${size}`);
    });

    it('should answer several ranges of a variant with the whole variant', async () => {
      const res = await fetch('/app.js', { 'accept-encoding': 'gzip', range: 'bytes=0-9,20-29' });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(tree.bytes('app.js.gz')));
    });
  });

  describe('options', () => {
    it('precompressed: false should send the original, without Vary', async () => {
      const url = await withOptions({ precompressed: false });
      const res = await get(url, '/app.js', { 'accept-encoding': 'br, gzip' });
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, undefined);
      assert.ok(res.body.equals(tree.bytes('app.js')));
    });

    it('an array should limit the codings and set their order on ties', async () => {
      const url = await withOptions({ precompressed: ['gzip', 'zstd'] });
      assert.equal((await get(url, '/app.js', { 'accept-encoding': 'br' })).headers['content-encoding'], undefined);
      assert.equal((await get(url, '/app.js', { 'accept-encoding': 'br, zstd, gzip' })).headers['content-encoding'], 'gzip');
      assert.equal((await get(url, '/app.js', { 'accept-encoding': 'br, zstd' })).headers['content-encoding'], 'zstd');
    });

    it('setHeaders should see the original path and may add to Vary', async () => {
      const seen: string[] = [];
      const url = await withOptions({
        setHeaders: (res, filePath) => {
          seen.push(path.basename(filePath));
          res.setHeader('Vary', 'Origin');
        },
      });
      const res = await get(url, '/app.js', { 'accept-encoding': 'gzip' });
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(res.headers.vary, 'Origin, Accept-Encoding');
      assert.deepEqual(seen, ['app.js']);
    });
  });

  describe('when variants change on disk', () => {
    it('should notice a variant added or removed within about a second', async function () {
      this.timeout(10_000);
      const dir = scratchDir();
      fs.writeFileSync(path.join(dir, 'late.js'), 'original\n');
      const own = await startServer(dir, { engine });
      servers.push(own);
      const accept = { 'accept-encoding': 'gzip' };
      const before = await get(own.url, '/late.js', accept);
      assert.equal(before.status, 200);
      assert.equal(before.headers['content-encoding'], undefined);
      assert.equal(before.headers.vary, undefined);
      fs.writeFileSync(path.join(dir, 'late.js.gz'), zlib.gzipSync('original\n'));
      await new Promise((r) => setTimeout(r, 1100));
      const added = await get(own.url, '/late.js', accept);
      assert.equal(added.headers['content-encoding'], 'gzip');
      assert.equal(added.headers.vary, 'Accept-Encoding');
      fs.rmSync(path.join(dir, 'late.js.gz'));
      const deadline = Date.now() + 2500;
      let encoding: unknown = 'gzip';
      while (Date.now() < deadline && encoding !== undefined) {
        const res = await get(own.url, '/late.js', accept);
        assert.equal(res.status, 200);
        encoding = res.headers['content-encoding'];
        if (encoding === undefined) assert.equal(res.body.toString(), 'original\n');
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(encoding, undefined, 'the removed variant is no longer sent');
    });
  });
});
