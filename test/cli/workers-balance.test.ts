// --workers on a Node whose listen() takes reusePort: every worker owns a
// listening socket of its own and the kernel spreads connections, the
// primary owns none; SLUICE_WORKERS_BALANCE=cluster (and older Node) keeps
// node:cluster's one socket in the primary.
import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { request } from 'undici';
import { hasReusePort } from '../../server/src/workers-listen';
import { fixtures } from '../helpers/fixtures';
import { runCli, startCli, stopCli } from '../helpers/cli';

/** The pids owning sockets on `port` in `state` ('listening' or 'established'), one entry per socket. */
function socketOwners(port: number, state: 'listening' | 'established'): number[] {
  const ss = spawnSync('ss', ['-H', '-tnp', 'state', state, `( sport = :${port} )`], { encoding: 'utf8' });
  return [...ss.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

function workerPids(primary: ChildProcess): number[] {
  return spawnSync('pgrep', ['-P', String(primary.pid)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens a connection, has one keep-alive request answered on it, and leaves it open. */
function keptAlive(port: number, sockets: net.Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let got = '';
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.endsWith('hello, world\n')) resolve();
    });
    socket.write('GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

const hasSs = spawnSync('ss', ['-V']).status === 0;

describe('cli --workers balance', function () {
  this.timeout(60_000);
  const fx = fixtures();

  describe('with reusePort on listen()', function () {
    if (!hasReusePort()) {
      it.skip(`skipped: Node ${process.version} has no reusePort on server.listen() (22.12+); workers use node:cluster here`, () => {});
      return;
    }
    if (!hasSs) {
      it.skip('skipped: needs ss (iproute2) to see which process owns each socket', () => {});
      return;
    }

    it('should give every worker its own listening socket, the primary none, and spread connections across them', async () => {
      const { child, port } = await startCli([fx.root, '--port', '0', '--workers', '2']);
      const sockets: net.Socket[] = [];
      try {
        const workers = workerPids(child);
        assert.equal(workers.length, 2);
        await until('two listening sockets', () => socketOwners(port, 'listening').length === 2);
        assert.deepEqual(socketOwners(port, 'listening').sort(), [...workers].sort());
        // 40 kept-alive connections, each answered: the kernel hashed each to a worker.
        await Promise.all(Array.from({ length: 40 }, () => keptAlive(port, sockets)));
        const owners = new Set(socketOwners(port, 'established'));
        assert.ok(!owners.has(child.pid as number), 'the primary owns no connection');
        for (const w of workers) assert.ok(owners.has(w), `worker ${w} took none of 40 connections`);
      } finally {
        for (const s of sockets) s.destroy();
        await stopCli(child);
      }
    });

    it('should keep the announced port when every worker has been replaced (--port 0)', async () => {
      const { child, port } = await startCli([fx.root, '--port', '0', '--workers', '2']);
      try {
        const first = workerPids(child);
        for (const pid of first) {
          process.kill(pid, 'SIGKILL');
          await until('a replacement listening', () => {
            const owners = socketOwners(port, 'listening');
            return owners.length === 2 && !owners.includes(pid);
          });
        }
        assert.equal(workerPids(child).filter((p) => first.includes(p)).length, 0);
        const res = await request(`http://127.0.0.1:${port}/hello.txt`, { reset: true });
        assert.equal(await res.body.text(), 'hello, world\n');
      } finally {
        await stopCli(child);
      }
    });

    it('should refuse a port another process holds with SO_REUSEPORT rather than share it', async () => {
      const other = net.createServer((s) => s.destroy());
      await new Promise<void>((resolve) => other.listen({ port: 0, host: '127.0.0.1', reusePort: true } as net.ListenOptions, resolve));
      const { port } = other.address() as net.AddressInfo;
      try {
        const run = runCli([fx.root, '--port', String(port), '--workers', '2'], { timeoutMs: 20_000 });
        assert.equal(run.status, 2, run.stderr);
        assert.match(run.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
      } finally {
        await new Promise((r) => other.close(r));
      }
    });
  });

  describe('with SLUICE_WORKERS_BALANCE=cluster', function () {
    if (!hasSs) {
      it.skip('skipped: needs ss (iproute2) to see which process owns each socket', () => {});
      return;
    }

    it("should listen on one socket, the primary's, and serve from the workers", async () => {
      const prev = process.env.SLUICE_WORKERS_BALANCE;
      process.env.SLUICE_WORKERS_BALANCE = 'cluster';
      let started;
      try {
        started = await startCli([fx.root, '--port', '0', '--workers', '2']);
      } finally {
        if (prev === undefined) delete process.env.SLUICE_WORKERS_BALANCE;
        else process.env.SLUICE_WORKERS_BALANCE = prev;
      }
      const { child, port } = started;
      try {
        assert.deepEqual(socketOwners(port, 'listening'), [child.pid]);
        const res = await request(`http://127.0.0.1:${port}/hello.txt`, { reset: true });
        assert.equal(await res.body.text(), 'hello, world\n');
      } finally {
        await stopCli(child);
      }
    });
  });
});
