// Graceful shutdown: SIGTERM stops accepting, lets a transfer in flight
// finish, and exits 0; a second SIGTERM changes nothing; --drain-timeout
// bounds the drain (a container's stop grace period is 10 s by default).
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import type * as net from 'node:net';
import { startCli } from '../helpers/cli';
import { fixtures, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { engineCases } from '../helpers/server';

const BIG = '/size-67108864.bin';

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A download the client holds open by not reading. */
async function stalledDownload(port: number): Promise<net.Socket> {
  const socket = await connect(port);
  socket.on('error', () => {});
  socket.pause();
  socket.write(requestText('GET', BIG));
  await sleep(300);
  return socket;
}

/** Reads the held download to its end and checks every byte. */
async function finishDownload(socket: net.Socket): Promise<void> {
  const reading = readResponses(socket, 1, [], 20_000);
  socket.resume();
  const [res] = await reading;
  assert.equal(res?.status, 200);
  assert.equal(sha256(res?.body ?? Buffer.alloc(0)), sha256(fixtures().bytes(BIG)));
  socket.destroy();
}

describe('when the server gets SIGTERM', () => {
  for (const c of engineCases().filter((e) => e.available)) {
    it(`should finish the download in flight and exit 0 [engine ${c.name}]`, async function () {
      this.timeout(30_000);
      const { child, port } = await startCli([fixtures().root, '--port', '0', '--engine', c.name]);
      const exited = exitOf(child);
      try {
        const socket = await stalledDownload(port);
        child.kill('SIGTERM');
        await sleep(300);
        // New connections are refused once the listener is closed.
        await assert.rejects(connect(port));
        await finishDownload(socket);
        assert.equal(await exited, 0);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it(`should keep draining through a second SIGTERM [engine ${c.name}]`, async function () {
      this.timeout(30_000);
      const { child, port } = await startCli([fixtures().root, '--port', '0', '--engine', c.name]);
      const exited = exitOf(child);
      try {
        const socket = await stalledDownload(port);
        child.kill('SIGTERM');
        await sleep(200);
        child.kill('SIGTERM');
        await sleep(200);
        assert.equal(child.exitCode, null, 'the second SIGTERM ended the process');
        await finishDownload(socket);
        assert.equal(await exited, 0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  it('should keep draining through a second SIGTERM with --workers 2', async function () {
    this.timeout(30_000);
    const { child, port } = await startCli([fixtures().root, '--port', '0', '--workers', '2']);
    const exited = exitOf(child);
    try {
      const socket = await stalledDownload(port);
      child.kill('SIGTERM');
      await sleep(200);
      child.kill('SIGTERM');
      await sleep(200);
      await finishDownload(socket);
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('should close what is left at --drain-timeout and exit 0 within it', async function () {
    this.timeout(30_000);
    const { child, port } = await startCli([fixtures().root, '--port', '0', '--drain-timeout', '1000']);
    const exited = exitOf(child);
    try {
      const socket = await stalledDownload(port);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const started = Date.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const ms = Date.now() - started;
      assert.ok(ms >= 900 && ms < 3000, `exited ${ms} ms after SIGTERM`);
      socket.resume();
      await closed;
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('should stop at once on a second SIGINT', async function () {
    this.timeout(30_000);
    const { child, port } = await startCli([fixtures().root, '--port', '0']);
    const exited = exitOf(child);
    try {
      await stalledDownload(port);
      const started = Date.now();
      child.kill('SIGINT');
      await sleep(200);
      child.kill('SIGINT');
      await exited;
      assert.ok(Date.now() - started < 2000, 'still draining after a second SIGINT');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
