// `sluice compress DIR`, and the CLI's compress cache shared by workers.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { request } from 'undici';
import { CACHE_CODINGS } from '../../server/src/compress-cache';
import { runCli, startCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { prng } from '../helpers/prng';
import { forEachEngine } from '../helpers/server';

function text(bytes: number, seed: number): Buffer {
  const random = prng(seed);
  let out = '';
  while (out.length < bytes) out += `function f${Math.floor(random() * 9999)}(a) { return a * ${Math.floor(random() * 100)}; }\n`;
  return Buffer.from(out.slice(0, bytes));
}

function compress(dir: string): { status: number | null; stdout: string; stderr: string } {
  return runCli(['compress', dir], { timeoutMs: 60_000 });
}

describe('sluice compress', function () {
  this.timeout(60_000);

  it('should write br and gz siblings of compressible files only, and skip those up to date', () => {
    const dir = scratchDir();
    fs.mkdirSync(path.join(dir, 'js'));
    fs.writeFileSync(path.join(dir, 'js', 'app.js'), text(50_000, 1));
    fs.writeFileSync(path.join(dir, 'style.css'), text(20_000, 2));
    fs.writeFileSync(path.join(dir, 'tiny.css'), text(300, 3));
    fs.writeFileSync(path.join(dir, 'photo.jpg'), text(20_000, 4));
    // br and gzip, and zstd where this Node's zlib writes it.
    const n = CACHE_CODINGS.length;
    const first = compress(dir);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^sluice compress: ${2 * n} written, `));
    assert.deepEqual(zlib.brotliDecompressSync(fs.readFileSync(path.join(dir, 'js', 'app.js.br'))), text(50_000, 1));
    assert.deepEqual(zlib.gunzipSync(fs.readFileSync(path.join(dir, 'style.css.gz'))), text(20_000, 2));
    for (const absent of ['tiny.css.br', 'photo.jpg.br', 'photo.jpg.gz']) assert.equal(fs.existsSync(path.join(dir, absent)), false, absent);
    const again = compress(dir);
    assert.match(again.stdout, new RegExp(`^sluice compress: 0 written \\(${2 * n} up to date\\)`));
    // A source newer than its siblings is compressed again.
    const later = new Date(Date.now() + 5000);
    fs.writeFileSync(path.join(dir, 'style.css'), text(21_000, 5));
    fs.utimesSync(path.join(dir, 'style.css'), later, later);
    assert.match(compress(dir).stdout, new RegExp(`^sluice compress: ${n} written \\(${n} up to date\\)`));
    assert.deepEqual(zlib.brotliDecompressSync(fs.readFileSync(path.join(dir, 'style.css.br'))), text(21_000, 5));
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('should refuse a path that is not a directory', () => {
    const result = compress(path.join(scratchDir(), 'missing'));
    assert.equal(result.status, 2);
    assert.match(result.stderr, /not a directory/);
  });
});

forEachEngine('the CLI compress cache', (engine) => {
  it('should be shared by --workers: one entry, made once, served compressed by every worker', async () => {
    const base = scratchDir();
    const root = path.join(base, 'public');
    const cache = path.join(base, 'cache');
    fs.mkdirSync(root);
    const source = text(200_000, 9);
    fs.writeFileSync(path.join(root, 'app.js'), source);
    const { child, port } = await startCli([root, '--port', '0', '--engine', engine, '--workers', '2', '--compress-cache', cache]);
    try {
      let coded = 0;
      for (let i = 0; i < 200 && coded < 20; i++) {
        // A new connection each time, so both workers take requests.
        const res = await request(`http://127.0.0.1:${port}/app.js`, { headers: { 'accept-encoding': 'br', connection: 'close' } });
        const body = Buffer.from(await res.body.arrayBuffer());
        const isBr = res.headers['content-encoding'] === 'br';
        assert.deepEqual(isBr ? zlib.brotliDecompressSync(body) : body, source);
        if (isBr) coded++;
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(coded, 20, 'the variant is served once made');
      const names = fs.readdirSync(cache);
      assert.deepEqual(
        names.filter((n) => !n.endsWith('.br')),
        [],
      );
      assert.equal(names.length, 1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('should be off with --no-compress', async () => {
    const base = scratchDir();
    const root = path.join(base, 'public');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'app.js'), text(20_000, 10));
    const { child, port } = await startCli([root, '--port', '0', '--engine', engine, '--no-compress']);
    try {
      const res = await request(`http://127.0.0.1:${port}/app.js`, { headers: { 'accept-encoding': 'br' } });
      await res.body.arrayBuffer();
      assert.equal(res.headers.vary, undefined);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
