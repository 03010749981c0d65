// The io_uring engine under each way of running the ring's task work
// (SLUICE_URING_TASKRUN, for measuring: README, Engines). Only 'interrupt',
// the default, is what users get; the others must still never stall a
// completion or send a wrong byte, since a kernel may be asked for them.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { engines } from '../../server/src/index';
import { CLI, startCli } from '../helpers/cli';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { prng } from '../helpers/prng';

async function start(root: string, mode: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [root, '--host', '127.0.0.1', '--port', '0', '--engine', 'io_uring', '--small-file-max', '0', '--no-compress'];
  const { child, port } = await startCli(args, process.execPath, [CLI], { SLUICE_URING_TASKRUN: mode });
  return { child, url: `http://127.0.0.1:${port}` };
}

function bytes(n: number, seed: number): Buffer {
  const random = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

describe('io_uring engine, each task-run mode', () => {
  const uring = engines().find((e) => e.name === 'io_uring');
  if (!uring?.available) {
    it.skip(`skipped: engine io_uring unavailable here (${uring?.reason})`, () => {});
    return;
  }
  const root = scratchDir();
  const small = bytes(3000, 1);
  const big = bytes(3 * 1024 * 1024 + 5, 2);
  fs.writeFileSync(path.join(root, 'small.bin'), small);
  fs.writeFileSync(path.join(root, 'big.bin'), big);

  for (const mode of ['interrupt', 'cooperative', 'deferred']) {
    it(`should answer 60 concurrent requests, then 2,000 on 50 connections, exactly with task run ${mode}`, async () => {
      const { child, url } = await start(root, mode);
      try {
        const asks = Array.from({ length: 60 }, (_, i): { path: string; headers: Record<string, string>; want: Buffer } => {
          if (i % 3 === 0) return { path: '/small.bin', headers: {}, want: small };
          if (i % 3 === 1) return { path: '/big.bin', headers: {}, want: big };
          return { path: '/big.bin', headers: { range: 'bytes=4095-2000000' }, want: big.subarray(4095, 2000001) };
        });
        const got = await Promise.all(asks.map((a) => fetch(url + a.path, { headers: a.headers }).then(async (r) => Buffer.from(await r.arrayBuffer()))));
        got.forEach((body, i) => assert.equal(sha256(body), sha256(asks[i].want), `${asks[i].path} ${JSON.stringify(asks[i].headers)}`));
        // Sustained: 50 connections, 40 small bodies each, one after another
        // (the load under which a missed wake-up shows as a stall).
        const want = sha256(small);
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            for (let k = 0; k < 40; k++) assert.equal(sha256(Buffer.from(await (await fetch(`${url}/small.bin`)).arrayBuffer())), want);
          }),
        );
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
