// --compress-warm and compress: { warm: true }: the root's compressible
// files are compressed in the background at start-up, a line says when,
// and the first request for an asset then gets the compressed variant.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { request } from 'undici';
import { launchCli, runCli, stopCli, type StartedCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { CACHE_CODINGS } from '../../server/src/compress-cache';
import { createServer, type WarmSummary } from '../../server/src/index';

function makeSite(): { root: string; files: Record<string, Buffer> } {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(path.join(root, 'js'), { recursive: true });
  fs.mkdirSync(path.join(root, '.hidden'));
  const files: Record<string, Buffer> = {
    'app.js': Buffer.from('function hello(name) { return "hello " + name; }\n'.repeat(300)),
    'js/lib.js': Buffer.from('export const answer = () => 42;\n'.repeat(500)),
    'style.css': Buffer.from('body { margin: 0; padding: 0; color: #333; }\n'.repeat(200)),
  };
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(root, name), bytes);
  // Not compressible, too small, hidden: left alone.
  fs.writeFileSync(path.join(root, 'photo.jpg'), Buffer.alloc(4096, 1));
  fs.writeFileSync(path.join(root, 'tiny.js'), 'x();\n');
  fs.writeFileSync(path.join(root, '.hidden', 'secret.js'), 'secret();\n'.repeat(500));
  return { root, files };
}

/** The first request for `name` accepting br: its coding and decoded body. */
async function firstRequest(base: string, name: string): Promise<{ coding: string | undefined; body: Buffer }> {
  const res = await request(`${base}/${name}`, { headers: { 'accept-encoding': 'br' } });
  const raw = Buffer.from(await res.body.arrayBuffer());
  const coding = res.headers['content-encoding'] as string | undefined;
  return { coding, body: coding === 'br' ? zlib.brotliDecompressSync(raw) : raw };
}

/** The CLI with a compress cache of its own. */
function start(args: string[]): Promise<StartedCli> {
  return launchCli(args, { env: { XDG_CACHE_HOME: scratchDir() } });
}

/** The line saying the warm-up is done (rejects after `ms`). */
async function warmLine(s: StartedCli, ms: number): Promise<string> {
  return (await s.waitFor(/^sluice: compress warm-up done: .*$/m, ms))[0];
}

describe('cli: --compress-warm', function () {
  this.timeout(60_000);

  it('should compress every compressible file at start-up, say so, and serve the first request compressed', async () => {
    const { root, files } = makeSite();
    const s = await start([root, '--port', '0', '--compress-warm']);
    try {
      const line = await warmLine(s, 40_000);
      const n = Object.keys(files).length;
      const total = Object.values(files).reduce((sum, b) => sum + b.length, 0);
      assert.match(
        line,
        new RegExp(`done: ${n * CACHE_CODINGS.length} variants of ${n} compressible files, ${total * CACHE_CODINGS.length} bytes to \\d+, in \\d+ ms$`),
      );
      for (const [name, bytes] of Object.entries(files)) {
        const first = await firstRequest(s.base, name);
        assert.equal(first.coding, 'br', name);
        assert.ok(first.body.equals(bytes), name);
      }
      const gz = await request(`${s.base}/app.js`, { headers: { 'accept-encoding': 'gzip' } });
      await gz.body.arrayBuffer();
      assert.equal(gz.headers['content-encoding'], 'gzip');
    } finally {
      await stopCli(s.child);
    }
  });

  it('should compress at idle priority (a thread of the server at SCHED_IDLE or nice 19 while it warms)', async function () {
    if (process.platform !== 'linux') this.skip();
    const { root } = makeSite();
    // Enough work (brotli at level 11) to be seen in progress.
    for (let i = 0; i < 12; i++)
      fs.writeFileSync(path.join(root, `big${i}.js`), Buffer.from(`var v${i} = ${JSON.stringify('abcdefghij'.repeat(1000) + i)};\n`.repeat(60)));
    const s = await start([root, '--port', '0', '--compress-warm']);
    try {
      const done = warmLine(s, 50_000);
      let seen = false;
      let finished = false;
      void done.then(() => (finished = true));
      while (!seen && !finished) {
        for (const tid of fs.readdirSync(`/proc/${s.child.pid}/task`)) {
          const stat = fs.readFileSync(`/proc/${s.child.pid}/task/${tid}/stat`, 'utf8');
          // Fields 19 (nice) and 41 (policy; 5 is SCHED_IDLE), counted after the parenthesised command name.
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          if (Number(fields[16]) === 19 || Number(fields[38]) === 5) seen = true;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(seen, 'a SCHED_IDLE or nice-19 thread while warming');
      await done;
    } finally {
      await stopCli(s.child);
    }
  });

  it('should serve a first request uncompressed without it (the variant is made after)', async () => {
    const { root } = makeSite();
    const s = await start([root, '--port', '0']);
    try {
      assert.equal((await firstRequest(s.base, 'app.js')).coding, undefined);
    } finally {
      await stopCli(s.child);
    }
  });

  it('should refuse --compress-warm with --no-compress (exit code 2)', () => {
    const r = runCli(['--port', '0', '--compress-warm', '--no-compress']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--compress-warm needs the compress cache/);
  });

  it('should list --compress-warm in --help', () => {
    assert.match(runCli(['--help']).stdout, /--compress-warm /);
  });
});

describe('library: compress: { warm: true }', function () {
  this.timeout(60_000);

  it("should warm the cache, resolve server.sluice.compressWarm and emit 'compressWarm'", async () => {
    const { root, files } = makeSite();
    const server = createServer(root, { compress: { dir: path.join(scratchDir(), 'cache'), warm: true } });
    const emitted = new Promise<WarmSummary>((resolve) => server.once('compressWarm', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const summary = await server.sluice.compressWarm;
      assert.ok(summary !== null);
      assert.equal(summary.files, Object.keys(files).length);
      assert.equal(summary.variants, Object.keys(files).length * CACHE_CODINGS.length);
      assert.ok(summary.bytesOut < summary.bytesIn);
      assert.deepEqual(await emitted, summary);
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const first = await firstRequest(base, 'js/lib.js');
      assert.equal(first.coding, 'br');
      assert.ok(first.body.equals(files['js/lib.js']));
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('should refuse a compress.warm that is not a boolean', () => {
    assert.throws(() => createServer(scratchDir(), { compress: { warm: 'yes' as never } }), { code: 'ERR_INVALID_ARG_VALUE' });
  });
});
