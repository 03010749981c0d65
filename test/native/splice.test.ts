// Contract tests for the splice mover (sendSegments(MOVER_SPLICE, ...)) over
// TCP loopback connections, and the pipe pool it draws from.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ECANCELED,
  Loopback,
  TempDir,
  binding,
  bindingReason,
  cancelLeftovers,
  describeIf,
  newId,
  requireBinding,
  sha256,
  start,
  type StartTransfer,
} from '../helpers/native-harness';
import { transferContract } from '../helpers/transfer-contract';
import type { PipePoolStats } from '../../server/src/native';

const KiB = 1024;
const MiB = 1024 * KiB;
const NO_BUDGET = 1024 * MiB;
const MAX_IDLE = 64;

function pipeMaxSize(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'));
  } catch {
    return Infinity;
  }
}

describeIf(binding !== null, bindingReason, 'native splice', () => {
  const b = requireBinding();
  const send: StartTransfer = (outFd, segments, maxChunk, id, cb) => b.sendSegments(b.MOVER_SPLICE, outFd, segments, maxChunk, id, cb);

  describe('sendSegments(MOVER_SPLICE)', () => {
    transferContract({ send, multiSegment: true, usesPipes: true });
  });

  describe('pipe pool', () => {
    const loop = new Loopback();
    const tmp = new TempDir();
    let file: { path: string; fd: number; data: Buffer };

    before(async () => {
      await loop.listen();
      file = tmp.randomFile('pool.bin', 16 * MiB + 3);
    });

    afterEach(async () => {
      await cancelLeftovers();
      await loop.destroyAll();
    });

    after(async () => {
      await loop.close();
      tmp.cleanup();
    });

    it('should grant pipes up to 1 MiB, within pipe-max-size', async () => {
      const conn = await loop.connect();
      conn.receiver.resume();
      const t = start(send, conn.fd, [[file.fd, 0, 4 * MiB]], NO_BUDGET);
      assert.equal((await t.outcome).status, b.DONE);
      const { pipeSize, created } = b.pipePoolStats();
      assert.ok(created > 0);
      // F_SETPIPE_SZ may be refused (per-user pipe page limit) and leave the
      // default, but never exceeds what we asked for or the system maximum.
      assert.ok(pipeSize >= 4096 && pipeSize <= Math.min(MiB, pipeMaxSize()), `pipeSize ${pipeSize}`);
    });

    it('should reuse a pooled pipe instead of creating one', async () => {
      for (let i = 0; i < 2; i++) {
        const conn = await loop.connect();
        conn.receiver.resume();
        const t = start(send, conn.fd, [[file.fd, 0, MiB]], NO_BUDGET);
        assert.equal((await t.outcome).status, b.DONE);
        await conn.finish();
      }
      const before = b.pipePoolStats();
      assert.ok(before.idle >= 1, 'a finished transfer pools its empty pipe');
      for (let i = 0; i < 5; i++) {
        const conn = await loop.connect();
        conn.receiver.resume();
        const t = start(send, conn.fd, [[file.fd, i * 4096, 2 * MiB]], NO_BUDGET);
        assert.equal((await t.outcome).status, b.DONE);
        await conn.finish();
        assert.equal(sha256(conn.receiver.data()), sha256(file.data.subarray(i * 4096, i * 4096 + 2 * MiB)));
      }
      const after = b.pipePoolStats();
      assert.equal(after.created, before.created, 'no new pipe');
      assert.equal(after.closed, before.closed, 'no pipe closed');
      assert.equal(after.idle, before.idle);
    });

    it('should give the pipe back before the callback runs', async () => {
      const conn = await loop.connect();
      const baseline = b.pipePoolStats();
      let returned = 0;
      const seen = new Promise<PipePoolStats>((resolve) => {
        returned = send(conn.fd, [[file.fd, 0, 16 * MiB]], NO_BUDGET, newId(), () => resolve(b.pipePoolStats()));
      });
      assert.equal(returned, b.PENDING);
      assert.equal(b.pipePoolStats().inUse, baseline.inUse + 1, 'held while bytes wait in it');
      conn.receiver.resume();
      assert.equal((await seen).inUse, baseline.inUse, 'released before the callback');
    });

    it('should close, never pool, a pipe that still holds bytes when cancelled', async () => {
      const conn = await loop.connect();
      const t = start(send, conn.fd, [[file.fd, 0, 16 * MiB]], NO_BUDGET);
      assert.equal(t.returned, b.PENDING);
      const held = b.pipePoolStats();
      assert.equal(b.cancel(t.id), true);
      // Cancel returns the mover's resources at once, not when the poll
      // handle has closed.
      const cancelled = b.pipePoolStats();
      assert.equal(cancelled.inUse, held.inUse - 1);
      assert.equal(cancelled.closed, held.closed + 1, 'closed');
      assert.equal(cancelled.idle, held.idle, 'not pooled');
      assert.equal((await t.outcome).status, -ECANCELED);
    });

    it(`should keep at most ${MAX_IDLE} idle pipes after 100 blocked transfers finish`, async function () {
      this.timeout(30_000);
      const count = 100;
      const length = 8 * MiB;
      const conns = await loop.connectMany(count, false);
      const before = b.pipePoolStats();
      const transfers = conns.map((conn, i) => {
        const offset = i * 4096 * 3;
        const t = start(send, conn.fd, [[file.fd, offset, length]], NO_BUDGET);
        assert.equal(t.returned, b.PENDING, `transfer ${i} blocked`);
        return { conn, t, offset };
      });
      const blocked = b.pipePoolStats();
      assert.equal(blocked.inUse, before.inUse + count, 'one pipe per blocked transfer: in-use pipes are not capped');
      for (const { conn } of transfers) conn.receiver.resume();
      await Promise.all(
        transfers.map(async ({ conn, t, offset }) => {
          assert.equal((await t.outcome).status, b.DONE);
          assert.ok(b.pipePoolStats().idle <= MAX_IDLE);
          await conn.finish();
          assert.equal(conn.receiver.digest(), sha256(file.data.subarray(offset, offset + length)));
        }),
      );
      const after = b.pipePoolStats();
      assert.equal(after.inUse, before.inUse);
      assert.equal(after.idle, MAX_IDLE, 'surplus pipes closed, the rest pooled');
      assert.equal(after.created - after.closed, after.idle + after.inUse, 'every pipe accounted for');
    });

    it('should send with sendfile when no pipe can be made, and return -EMFILE before any byte when no fd is left', function () {
      this.timeout(20_000);
      // A child with a low fd limit, so running out of fds is cheap and
      // cannot disturb this process.
      const addon = path.resolve(__dirname, '../../../native/build/Release/sluice.node');
      const script = `
        const net = require('net'), fs = require('fs');
        const b = require(${JSON.stringify(addon)});
        const file = fs.openSync(${JSON.stringify(file.path)}, 'r');
        let received = 0;
        const srv = net.createServer({ pauseOnConnect: true }, (s) => {
          const fd = s._handle.fd;
          const hog = [];
          try { for (;;) hog.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
          const none = b.sendSegments(b.MOVER_SPLICE, fd, [[file, 0, 65536]], 1 << 20, 1, () => {});
          fs.closeSync(hog.pop()); // one free fd: the socket's duplicate takes it, a pipe needs two
          const rc = b.sendSegments(b.MOVER_SPLICE, fd, [[file, 0, 65536]], 1 << 20, 2, () => {});
          const stats = b.pipePoolStats();
          for (const h of hog) fs.closeSync(h);
          setTimeout(() => {
            console.log(JSON.stringify({ none, rc, done: b.DONE, stats, received }));
            process.exit(0);
          }, 200);
        });
        srv.listen(0, '127.0.0.1', () => net.connect(srv.address().port, '127.0.0.1').on('data', (c) => (received += c.length)));
      `;
      const child = spawnSync('/bin/sh', ['-c', 'ulimit -n 128 && exec "$0" -e "$1"', process.execPath, script], { encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      const { none, rc, done, stats, received } = JSON.parse(child.stdout) as {
        none: number;
        rc: number;
        done: number;
        stats: { inUse: number; created: number };
        received: number;
      };
      assert.equal(none, -24, 'EMFILE passed through');
      assert.equal(rc, done, 'sent with sendfile');
      assert.equal(received, 65536, 'the first call sent nothing, the second everything');
      assert.equal(stats.inUse, 0);
      assert.equal(stats.created, 0);
    });
  });
});
