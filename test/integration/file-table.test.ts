// The open-file table: hot files cost no open/stat/close, changes are seen
// within a second, and no response mixes two versions of a file.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { FileTable, fileTable } from '../../server/src/file-table';
import { fdsUnder, fixtures, scratchDir } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

/** A version of the test file: distinct length and bytes per version. */
function version(n: number): Buffer {
  return Buffer.alloc(100_000 + n * 997, `version ${n};`);
}

describe('open-file table', () => {
  describe('with a hot file', () => {
    it('should serve repeat requests without open, stat, fstat or close', async () => {
      const fx = fixtures();
      const server = await startServer(fx.root, { engine: 'copy' });
      const agent = new Agent();
      const calls: string[] = [];
      // The module object itself: what the table's calls resolve through.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const rawFs = require('node:fs') as typeof fs;
      const originals = { open: rawFs.open, stat: rawFs.stat, fstat: rawFs.fstat, close: rawFs.close };
      try {
        const get = async () => {
          const res = await request(`${server.url}/size-65536.bin`, { dispatcher: agent });
          assert.equal(res.statusCode, 200);
          await res.body.arrayBuffer();
        };
        await get();
        for (const name of Object.keys(originals) as Array<keyof typeof originals>) {
          (rawFs as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
            calls.push(name);
            return (originals[name] as (...a: unknown[]) => unknown)(...args);
          };
        }
        for (let i = 0; i < 10; i++) await get();
      } finally {
        Object.assign(rawFs, originals);
        await agent.close();
        await server.close();
      }
      assert.deepEqual(calls, []);
    });
  });

  describe('when bounded', () => {
    it('should keep at most maxFiles open, least recently used out first', async () => {
      const dir = scratchDir();
      const table = new FileTable({ maxFiles: 5, revalidateMs: 60_000 });
      const open = (name: string) =>
        new Promise<void>((resolve, reject) =>
          table.open(path.join(dir, name), (err, file) => {
            if (err || !file) return reject(err);
            file.release();
            resolve();
          }),
        );
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `f${i}`), String(i));
      for (let i = 0; i < 20; i++) await open(`f${i}`);
      // Evicted fds are closed asynchronously (fs.close); let that land.
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(table.size, 5);
      assert.deepEqual(
        fdsUnder(dir),
        ['f15', 'f16', 'f17', 'f18', 'f19'].map((f) => path.join(dir, f)),
      );
      table.clear();
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(fdsUnder(dir), []);
    });
  });

  describe('with entries nobody asks for', () => {
    it('should close a deleted file unasked for past inactiveMs, and keep the entries in use or asked for', async () => {
      const dir = scratchDir();
      const table = new FileTable({ maxFiles: 100, revalidateMs: 60_000, inactiveMs: 300 });
      const take = (name: string) =>
        new Promise<{ release(): void }>((resolve, reject) => table.open(path.join(dir, name), (err, file) => (err || !file ? reject(err) : resolve(file))));
      for (const name of ['gone', 'asked', 'held']) fs.writeFileSync(path.join(dir, name), name);
      (await take('gone')).release();
      (await take('asked')).release();
      const held = await take('held');
      fs.unlinkSync(path.join(dir, 'gone'));
      // 'asked' is asked for every 100 ms; 'held' stays in use (a response still sending it).
      const deadline = Date.now() + 900;
      while (Date.now() < deadline) {
        (await take('asked')).release();
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(
        fdsUnder(dir),
        ['asked', 'held'].map((f) => path.join(dir, f)),
      );
      assert.ok(table.counts.inactive >= 1);
      held.release();
      assert.equal(table.sweepInactive(Date.now() + 1000), 2);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(fdsUnder(dir), []);
    });
  });
});

forEachEngine('freshness', (engine) => {
  let dir: string;
  let server: TestServer;
  let agent: Agent;
  before(async () => {
    dir = scratchDir();
    fs.writeFileSync(path.join(dir, 'file.bin'), version(0));
    server = await startServer(dir, { engine });
    agent = new Agent({ connections: 4 });
  });
  after(async () => {
    await agent.close();
    await server.close();
    fileTable.clear();
  });

  const get = async (headers: Record<string, string> = {}) => {
    const res = await request(`${server.url}/file.bin`, { dispatcher: agent, headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  /**
   * The body of a request made once a second (the table's trust window)
   * has passed since `changedAt`: the change must show by then. Timed from
   * the change rather than polled, so a slow machine cannot stretch it.
   */
  const servedAfterASecond = async (changedAt: number): Promise<Buffer> => {
    await new Promise((r) => setTimeout(r, Math.max(0, changedAt + 1000 - Date.now())));
    return (await get()).body;
  };

  it('should see an atomic replace (rename) within a second', async () => {
    await get();
    const tmp = path.join(dir, '.next');
    fs.writeFileSync(tmp, version(1));
    fs.renameSync(tmp, path.join(dir, 'file.bin'));
    assert.ok((await servedAfterASecond(Date.now())).equals(version(1)), 'the replaced file was still served after a second');
  });

  it('should see an in-place write within a second', async () => {
    await get();
    fs.writeFileSync(path.join(dir, 'file.bin'), version(2));
    assert.ok((await servedAfterASecond(Date.now())).equals(version(2)), 'the old bytes were still served after a second');
  });

  it('should keep every response self-consistent while the file is replaced 100 times', async () => {
    const versions = Array.from({ length: 101 }, (_, i) => version(i + 3));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < versions.length; i++) {
        const tmp = path.join(dir, `.v${i}`);
        fs.writeFileSync(tmp, versions[i] as Buffer);
        fs.renameSync(tmp, path.join(dir, 'file.bin'));
        await new Promise((r) => setTimeout(r, 10));
      }
      writing = false;
    })();
    const byLength = new Map(versions.map((v) => [v.length, v]));
    byLength.set(version(2).length, version(2));
    let checked = 0;
    const reader = async () => {
      while (writing) {
        const res = await get({ range: checked % 3 === 0 ? 'bytes=10-5000' : '' });
        const length = Number(res.headers['content-length']);
        if (res.status === 206) {
          const total = Number(/\/(\d+)$/.exec(String(res.headers['content-range']))?.[1]);
          const whole = byLength.get(total);
          assert.ok(whole, `no version is ${total} bytes long`);
          assert.ok(res.body.equals(whole.subarray(10, 5001)), 'range bytes of another version');
        } else {
          assert.equal(res.status, 200);
          const whole = byLength.get(length);
          assert.ok(whole, `no version is ${length} bytes long`);
          assert.ok(res.body.equals(whole), 'body of another version than its Content-Length');
        }
        checked++;
      }
    };
    await Promise.all([writer, reader(), reader(), reader()]);
    assert.ok(checked > 50, `only ${checked} responses checked`);
  });
});
