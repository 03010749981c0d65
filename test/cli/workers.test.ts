// --workers under worker deaths, on every engine: a connection that
// arrives while a worker is killed is served or closed, never left hanging,
// and with --port 0 the announced port outlives every worker.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { startCli } from '../helpers/cli';
import { fixtures } from '../helpers/fixtures';
import { requestText } from '../helpers/raw-http';
import { engineCases } from '../helpers/server';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function workerPids(primary: ChildProcess): number[] {
  const pid = primary.pid as number;
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

type Outcome = 'served' | 'closed' | 'hung';

/** One request on a new connection: answered 200, closed without an answer, or neither within `ms`. */
function attempt(port: number, ms: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('hung');
    }, ms);
    socket.on('connect', () => socket.write(requestText('GET', '/hello.txt', { connection: 'close' })));
    socket.on('data', (c: Buffer) => (head += c.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(head.startsWith('HTTP/1.1 200') ? 'served' : 'closed');
    });
  });
}

/** Waits until the port answers again (a replacement worker listens), for at most `ms`. */
async function servedWithin(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await attempt(port, 1000)) === 'served') return true;
    await sleep(50);
  }
  return false;
}

describe('--workers when workers die', () => {
  for (const c of engineCases().filter((e) => e.available)) {
    it(`should serve or close every connection that arrives while a worker is killed [engine ${c.name}]`, async function () {
      this.timeout(60_000);
      const { child, port } = await startCli([fixtures().root, '--port', '0', '--workers', '2', '--engine', c.name]);
      try {
        for (let round = 0; round < 3; round++) {
          assert.ok(await servedWithin(port, 10_000), 'no worker came back');
          const [victim] = workerPids(child);
          const pending: Promise<Outcome>[] = [];
          for (let i = 0; i < 150; i++) {
            pending.push(attempt(port, 5000));
            if (i === 75) process.kill(victim as number, 'SIGKILL');
            await sleep(1);
          }
          const outcomes = await Promise.all(pending);
          const count = (o: Outcome): number => outcomes.filter((x) => x === o).length;
          const tally = `round ${round + 1}: ${count('served')} served, ${count('closed')} closed, ${count('hung')} hung`;
          assert.equal(count('hung'), 0, `connections got neither a response nor a close (${tally})`);
          // How many are closed depends on how many the victim had been
          // handed and not yet answered (from a few to two fifths of them
          // in runs here), so of the rest only this is required: some served.
          assert.ok(count('served') > 0, `the surviving worker served none (${tally})`);
        }
      } finally {
        child.kill('SIGKILL');
      }
    });

    it(`should keep the announced --port 0 after every worker died at once [engine ${c.name}]`, async function () {
      this.timeout(30_000);
      const { child, port } = await startCli([fixtures().root, '--port', '0', '--workers', '2', '--engine', c.name]);
      try {
        for (let round = 0; round < 2; round++) {
          for (const pid of workerPids(child)) process.kill(pid, 'SIGKILL');
          assert.ok(await servedWithin(port, 10_000), `port ${port} not served after round ${round + 1} of replacements`);
        }
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
