// The compress cache: a compressible file with no sibling is answered as it
// is, compressed once in the background, then served compressed through the
// normal path on every engine (ETag of its own, ranges, 304s). Never a
// variant whose ETag names other bytes, even while the file is replaced
// again and again; bounded under a storm; bounded on disk; refused inside
// the root; no cache (and a warning) where the directory cannot be made.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { request } from 'undici';
import { CompressCache, openCompressCache } from '../../server/src/compress-cache';
import { openFile, type FileVersion } from '../../server/src/file-table';
import { createServer, type SluiceOptions } from '../../server/src/index';
import { scratchDir } from '../helpers/fixtures';
import { prng } from '../helpers/prng';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

const MAX_BYTES = 64 * 1024 * 1024;

/** CSS-like text that compresses well but not trivially. */
function stylesheet(bytes: number, seed: number): Buffer {
  const random = prng(seed);
  const words = ['margin', 'padding', 'color', 'display', 'flex', 'grid', 'border', 'width', 'height', 'font-size'];
  let out = '';
  while (out.length < bytes) {
    const w = words[Math.floor(random() * words.length)];
    out += `.c${Math.floor(random() * 5000)} { ${w}: ${Math.floor(random() * 100)}px; }\n`;
  }
  return Buffer.from(out.slice(0, bytes));
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

function decode(got: Got): Buffer {
  const coding = got.headers['content-encoding'];
  if (coding === 'br') return zlib.brotliDecompressSync(got.body);
  if (coding === 'gzip') return zlib.gunzipSync(got.body);
  assert.equal(coding, undefined);
  return got.body;
}

function cacheOf(dir: string, root: string): CompressCache {
  const cache = openCompressCache({ dir, maxBytes: MAX_BYTES }, root);
  assert.ok(cache);
  return cache;
}

forEachEngine('compress cache', (engine) => {
  const base = scratchDir();
  const root = path.join(base, 'public');
  const dir = path.join(base, 'cache');
  const css = stylesheet(40_000, 1);
  let server: TestServer;

  before(async () => {
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'site.css'), css);
    fs.writeFileSync(path.join(root, 'tiny.css'), stylesheet(500, 2));
    fs.writeFileSync(path.join(root, 'photo.png'), stylesheet(40_000, 3));
    fs.writeFileSync(path.join(root, 'sibling.css'), css);
    fs.writeFileSync(path.join(root, 'sibling.css.br'), zlib.brotliCompressSync(css));
    server = await startServer(root, { engine, compress: { dir, maxBytes: MAX_BYTES } } as SluiceOptions);
  });
  after(() => server.close());

  it('should answer identity first, then the cached variant with its own validators', async () => {
    const first = await get(`${server.url}/site.css`, { 'accept-encoding': 'br, gzip' });
    assert.equal(first.headers['content-encoding'], undefined);
    assert.equal(first.headers.vary, 'Accept-Encoding');
    assert.deepEqual(first.body, css);
    await cacheOf(dir, root).idle();
    const second = await get(`${server.url}/site.css`, { 'accept-encoding': 'br, gzip' });
    assert.equal(second.headers['content-encoding'], 'br');
    assert.equal(second.headers.vary, 'Accept-Encoding');
    assert.ok(second.body.length < css.length / 2);
    assert.deepEqual(decode(second), css);
    assert.equal(second.headers.etag, `${String(first.headers.etag).slice(0, -1)}-br"`);
    assert.equal(second.headers['last-modified'], first.headers['last-modified']);
    assert.equal(Number(second.headers['content-length']), second.body.length);
  });

  it('should serve ranges of the variant and 304 for its ETag', async () => {
    await get(`${server.url}/site.css`, { 'accept-encoding': 'br' });
    await cacheOf(dir, root).idle();
    const whole = await get(`${server.url}/site.css`, { 'accept-encoding': 'br' });
    const part = await get(`${server.url}/site.css`, { 'accept-encoding': 'br', range: 'bytes=10-1009' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-encoding'], 'br');
    assert.deepEqual(part.body, whole.body.subarray(10, 1010));
    const again = await get(`${server.url}/site.css`, { 'accept-encoding': 'br', 'if-none-match': String(whole.headers.etag) });
    assert.equal(again.status, 304);
  });

  it('should give gzip to a client that takes only gzip, and identity with Vary to one that takes nothing', async () => {
    await get(`${server.url}/site.css`, { 'accept-encoding': 'gzip' });
    await cacheOf(dir, root).idle();
    const gz = await get(`${server.url}/site.css`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(decode(gz), css);
    const plain = await get(`${server.url}/site.css`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
  });

  it('should leave alone files too small, of a type not worth compressing, or with a sibling', async () => {
    for (const name of ['tiny.css', 'photo.png']) {
      await get(`${server.url}/${name}`, { 'accept-encoding': 'br' });
      await cacheOf(dir, root).idle();
      const got = await get(`${server.url}/${name}`, { 'accept-encoding': 'br' });
      assert.equal(got.headers['content-encoding'], undefined, name);
      assert.equal(got.headers.vary, undefined, name);
    }
    const sibling = await get(`${server.url}/sibling.css`, { 'accept-encoding': 'br' });
    assert.equal(sibling.headers['content-encoding'], 'br');
    const stat = fs.statSync(path.join(root, 'sibling.css.br'));
    assert.match(String(sibling.headers.etag), new RegExp(`^W/"${stat.size.toString(16)}-`));
  });
});

forEachEngine('compress cache, as files change and requests storm', (engine) => {
  const base = scratchDir();
  const root = path.join(base, 'public');
  const dir = path.join(base, 'cache');
  let server: TestServer;

  before(async () => {
    fs.mkdirSync(root);
    server = await startServer(root, { engine, compress: { dir, maxBytes: MAX_BYTES } } as SluiceOptions);
  });
  after(() => server.close());

  it('should never send a variant whose ETag names other bytes while the file is replaced 100 times', async () => {
    const file = path.join(root, 'app.css');
    const byEtag = new Map<string, Buffer>();
    const t0 = Math.floor(Date.now() / 1000) - 1000;
    const writeVersion = (i: number): void => {
      const bytes = stylesheet(20_000 + i, 100 + i);
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, bytes);
      fs.utimesSync(tmp, t0 + i, t0 + i);
      fs.renameSync(tmp, file);
      const stat = fs.statSync(file);
      byEtag.set(`W/"${stat.size.toString(16)}-${Math.round(stat.mtimeMs).toString(16)}"`, bytes);
    };
    const seen: Got[] = [];
    for (let i = 0; i < 100; i++) {
      writeVersion(i);
      seen.push(...(await Promise.all([1, 2, 3].map(() => get(`${server.url}/app.css`, { 'accept-encoding': 'br' })))));
      if (i % 10 === 0) {
        // Let this version's variant be made: the next requests may get it.
        await cacheOf(dir, root).idle();
        seen.push(...(await Promise.all([1, 2, 3].map(() => get(`${server.url}/app.css`, { 'accept-encoding': 'br' })))));
      }
    }
    let coded = 0;
    for (const got of seen) {
      const etag = String(got.headers.etag);
      const identityEtag = got.headers['content-encoding'] === 'br' ? `${etag.slice(0, -4)}"` : etag;
      const expected = byEtag.get(identityEtag);
      assert.ok(expected, `an ETag of no version: ${etag}`);
      assert.deepEqual(decode(got), expected, `bytes of another version under ${etag}`);
      if (got.headers['content-encoding'] === 'br') coded++;
    }
    // Once the last version has settled, it is served compressed.
    await new Promise((r) => setTimeout(r, 1100));
    await get(`${server.url}/app.css`, { 'accept-encoding': 'br' });
    await cacheOf(dir, root).idle();
    const last = await get(`${server.url}/app.css`, { 'accept-encoding': 'br' });
    assert.equal(last.headers['content-encoding'], 'br');
    assert.deepEqual(decode(last), byEtag.get(`${String(last.headers.etag).slice(0, -4)}"`));
    assert.deepEqual(decode(last), stylesheet(20_099, 199));
    assert.ok(coded > 0, 'some variants were served while the file changed');
  });

  it('should discard a variant whose source changed in place while it was compressed', async () => {
    const cache = cacheOf(dir, root);
    const file = path.join(root, 'changing.css');
    fs.writeFileSync(file, stylesheet(1_500_000, 7));
    const version = await new Promise<FileVersion>((resolve, reject) => openFile(file, (err, v) => (err || !v ? reject(err) : resolve(v))));
    try {
      const before = cache.stats.discarded;
      assert.equal(cache.lookup(version, 'br'), null);
      // Mid-compression: brotli at level 11 takes far longer than this on 1.5 MB.
      await new Promise((r) => setTimeout(r, 150));
      fs.appendFileSync(file, '.late { color: red; }\n');
      await cache.idle();
      assert.equal(cache.stats.discarded, before + 1);
      assert.equal(cache.lookup(version, 'br'), null, 'no entry for the version that changed');
      await cache.idle();
    } finally {
      version.release();
    }
  });

  it('should answer every request of a storm over distinct files, compressing a bounded number', async () => {
    const storm = path.join(root, 'storm');
    fs.mkdirSync(storm);
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(storm, `f${i}.css`), stylesheet(4096, 1000 + i));
    const cache = cacheOf(dir, root);
    const before = { ...cache.stats };
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => get(`${server.url}/storm/f${i}.css`, { 'accept-encoding': 'br' })));
    for (const [i, got] of answers.entries()) {
      assert.equal(got.status, 200);
      assert.deepEqual(decode(got), stylesheet(4096, 1000 + i));
    }
    await cache.idle();
    const made = cache.stats.compressed - before.compressed;
    const dropped = cache.stats.dropped - before.dropped;
    assert.ok(dropped > 0, 'a storm larger than the queue drops the excess to identity');
    assert.equal(made + dropped + (cache.stats.failed - before.failed) + (cache.stats.discarded - before.discarded), 300);
  });
});

forEachEngine('compress cache, on disk', (engine) => {
  it('should evict the least recently used past its bound, and find its entries again after a restart', async () => {
    const base = scratchDir();
    const root = path.join(base, 'public');
    const dir = path.join(base, 'cache');
    fs.mkdirSync(root);
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(root, `s${i}.css`), stylesheet(200_000, 50 + i));
    const bound = 60_000;
    const server = await startServer(root, { engine, compress: { dir, maxBytes: bound } } as SluiceOptions);
    try {
      const cache = openCompressCache({ dir, maxBytes: bound }, root) as CompressCache;
      for (let i = 0; i < 6; i++) {
        await get(`${server.url}/s${i}.css`, { 'accept-encoding': 'br' });
        await cache.idle();
      }
      assert.ok(cache.stats.evicted > 0);
      assert.ok(cache.bytes <= bound, `${cache.bytes} bytes kept`);
      const onDisk = fs.readdirSync(dir).reduce((n, name) => n + fs.statSync(path.join(dir, name)).size, 0);
      assert.ok(onDisk <= bound, `${onDisk} bytes on disk`);
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
        [],
      );
      const restarted = new CompressCache(dir, bound);
      assert.equal(restarted.bytes, onDisk);
    } finally {
      await server.close();
    }
  });

  it('should refuse a cache directory inside the served root', () => {
    const base = scratchDir();
    assert.throws(
      () => createServer(base, { engine, compress: { dir: path.join(base, 'cache') } }),
      (err: NodeJS.ErrnoException) => err.code === 'ERR_SLUICE_COMPRESS_CACHE_IN_ROOT',
    );
  });

  it('should warn once and serve without a cache when the directory cannot be made', async () => {
    const base = scratchDir();
    const root = path.join(base, 'public');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'site.css'), stylesheet(8000, 9));
    fs.writeFileSync(path.join(base, 'not-a-dir'), '');
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const server = await startServer(root, { engine, compress: { dir: path.join(base, 'not-a-dir', 'cache') } } as SluiceOptions);
      try {
        const got = await get(`${server.url}/site.css`, { 'accept-encoding': 'br' });
        assert.equal(got.status, 200);
        assert.equal(got.headers['content-encoding'], undefined);
      } finally {
        await server.close();
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0].message, /no compress cache .*not-a-dir/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('compress cache, its worker thread', () => {
  /** Scheduling policy (field 41 of /proc/self/task/T/stat) of thread `tid`. */
  function policyOf(tid: string): number {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]);
  }
  const policies = (): number[] => fs.readdirSync('/proc/self/task').map(policyOf);
  const SCHED_IDLE = 5;

  it('should compress on a thread of its own at SCHED_IDLE (never ahead of the serving thread)', async () => {
    const root = scratchDir();
    const dir = path.join(scratchDir(), 'cache');
    fs.writeFileSync(path.join(root, 'a.css'), stylesheet(20_000, 7));
    const server = await startServer(root, { compress: { dir } });
    try {
      await get(`${server.url}/a.css`, { 'accept-encoding': 'br' });
      await cacheOf(dir, root).idle();
      // Earlier caches' workers may still be about: at least this one's.
      assert.ok(policies().includes(SCHED_IDLE), 'a SCHED_IDLE thread');
      // The main thread's id is the process id (not the first listed: ids wrap).
      assert.notEqual(policyOf(String(process.pid)), SCHED_IDLE, 'the main thread stays as it was');
      assert.equal(decode(await get(`${server.url}/a.css`, { 'accept-encoding': 'br' })).length, 20_000);
    } finally {
      await server.close();
    }
  });
});
