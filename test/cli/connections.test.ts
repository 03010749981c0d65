// Connection hygiene of the CLI server: slowloris heads and idle kept-alive
// connections are closed by timeouts; thousands of idle connections are
// held with bounded memory while active clients are served exactly.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Agent, request } from 'undici';
import { startCli, type StartedCli } from '../helpers/cli';
import { fixtures, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';

function start(args: string[]): Promise<StartedCli> {
  return startCli([fixtures().root, '--port', '0', ...args]);
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

/** Milliseconds until the server closes `socket` (rejects after `limit`). */
function closedWithin(socket: net.Socket, limit: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${limit} ms`)), limit);
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe('connection timeouts', () => {
  let server: StartedCli;
  before(async () => {
    server = await start(['--headers-timeout', '1000', '--request-timeout', '2000', '--keep-alive-timeout', '500']);
  });
  after(() => server.child.kill('SIGKILL'));

  it('should close a connection that trickles its head in (slowloris)', async () => {
    const socket = await connect(server.port);
    socket.on('error', () => {});
    socket.write('GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), 200);
    try {
      const ms = await closedWithin(socket, 5000);
      assert.ok(ms >= 900, `closed after ${ms} ms, before headersTimeout`);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  it('should close an idle kept-alive connection after keepAliveTimeout', async () => {
    const socket = await connect(server.port);
    socket.on('error', () => {});
    socket.write(requestText('GET', '/hello.txt'));
    const [res] = await readResponses(socket, 1);
    assert.equal(res?.status, 200);
    const ms = await closedWithin(socket, 4000);
    assert.ok(ms >= 400, `closed after ${ms} ms`);
  });
});

describe('with 5,000 idle kept-alive connections', () => {
  it('should hold them with bounded memory while 50 active clients are served exactly', async function () {
    this.timeout(120_000);
    const server = await start(['--keep-alive-timeout', '60000']);
    const idle: net.Socket[] = [];
    const fx = fixtures();
    try {
      const before = rssMiB(server.child.pid as number);
      for (let i = 0; i < 5000; i += 250) {
        const batch = await Promise.all(Array.from({ length: 250 }, () => connect(server.port)));
        for (const socket of batch) {
          socket.on('error', () => {});
          socket.write(requestText('GET', '/hello.txt'));
        }
        await Promise.all(batch.map((s) => readResponses(s, 1)));
        idle.push(...batch);
      }
      const held = rssMiB(server.child.pid as number);
      assert.ok(held - before < 120, `RSS grew by ${(held - before).toFixed(1)} MiB for 5,000 idle connections`);

      const agent = new Agent({ connections: 50 });
      const want = sha256(fx.bytes('/size-65537.bin'));
      try {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            for (let i = 0; i < 10; i++) {
              const res = await request(`http://127.0.0.1:${server.port}/size-65537.bin`, { dispatcher: agent });
              assert.equal(res.statusCode, 200);
              assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), want);
            }
          }),
        );
      } finally {
        await agent.close();
      }
      assert.ok(
        idle.every((s) => !s.destroyed),
        'an idle connection was dropped while within keepAliveTimeout',
      );
    } finally {
      for (const s of idle) s.destroy();
      server.child.kill('SIGKILL');
    }
  });
});
