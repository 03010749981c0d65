// The descriptor budget under a low RLIMIT_NOFILE, on every engine: the
// open-file table is sized from the limit, cached files give way to
// connections, and a body never breaks off because a socket duplicate or a
// pipe could not be had (it goes out another way).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CLI, startCli, type StartedCli } from '../helpers/cli';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText, type RawResponse } from '../helpers/raw-http';
import { engineCases } from '../helpers/server';

const BIG = randomBytes(8 * 1024 * 1024);
const MEDIUM = randomBytes(100 * 1024);
let root: string | null = null;

/** A root with 470 small files, a 100 KiB one and an 8 MiB one (made once). */
function budgetRoot(): string {
  if (root !== null) return root;
  root = scratchDir();
  for (let i = 0; i < 470; i++) fs.writeFileSync(path.join(root, `f-${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(root, 'medium.bin'), MEDIUM);
  fs.writeFileSync(path.join(root, 'big.bin'), BIG);
  return root;
}

/** The CLI on `engine`, after `shell` (a ulimit, an export) in the shell that starts it. */
function startWith(engine: string, shell: string): Promise<StartedCli> {
  return startCli([], 'bash', ['-c', `${shell} && exec "${process.execPath}" "${CLI}" "${budgetRoot()}" --port 0 --engine ${engine}`]);
}

/** `count` requests on one kept-alive connection, `batch` pipelined at a time. */
async function fetchMany(port: number, targets: string[], batch = 50): Promise<RawResponse[]> {
  const socket = await connect(port);
  const out: RawResponse[] = [];
  try {
    for (let i = 0; i < targets.length; i += batch) {
      const slice = targets.slice(i, i + batch);
      socket.write(slice.map((t) => requestText('GET', t)).join(''));
      out.push(...(await readResponses(socket, slice.length, [], 10_000)));
    }
  } finally {
    socket.destroy();
  }
  return out;
}

/** One GET on a connection of its own: the response, or null if the connection closed first. */
async function download(port: number, target: string, headers: Record<string, string> = {}): Promise<RawResponse | null> {
  const socket = await connect(port);
  socket.on('error', () => {});
  try {
    socket.write(requestText('GET', target, headers));
    const [res] = await readResponses(socket, 1, [], 20_000);
    return res ?? null;
  } catch (err) {
    if (/timed out/.test(String(err))) throw err;
    return null;
  } finally {
    socket.destroy();
  }
}

function assertWhole(res: RawResponse | null, bytes: Buffer, what: string): void {
  assert.ok(res, `${what}: closed without a response`);
  assert.equal(res.status, 200, what);
  assert.equal(res.body.length, bytes.length, `${what}: cut off`);
  assert.equal(sha256(res.body), sha256(bytes), what);
}

describe('the descriptor budget', () => {
  for (const c of engineCases().filter((e) => e.available)) {
    describe(`[engine ${c.name}]`, () => {
      it('should still serve 40 parallel downloads after 470 distinct files under ulimit -n 512 (a table that nearly fills the limit)', async function () {
        this.timeout(60_000);
        const { child, port } = await startWith(c.name, 'ulimit -n 512');
        try {
          const small = await fetchMany(
            port,
            Array.from({ length: 470 }, (_, i) => `/f-${i}.txt`),
          );
          small.forEach((res, i) => assert.equal(res.body.toString(), `file ${i}\n`));
          const downloads = await Promise.all(Array.from({ length: 40 }, () => download(port, '/big.bin')));
          downloads.forEach((res, i) => assertWhole(res, BIG, `download ${i}`));
        } finally {
          child.kill('SIGKILL');
        }
      });

      it('should let cached files give way to connections under ulimit -n 256', async function () {
        this.timeout(60_000);
        const { child, port } = await startWith(c.name, 'ulimit -n 256');
        const sockets: net.Socket[] = [];
        try {
          await fetchMany(
            port,
            Array.from({ length: 70 }, (_, i) => `/f-${i}.txt`),
          );
          let served = 0;
          for (let i = 0; i < 200; i++) {
            const socket = await connect(port);
            socket.on('error', () => {});
            sockets.push(socket);
            socket.write(requestText('GET', '/medium.bin'));
            const [res] = await readResponses(socket, 1, [], 5000).catch(() => [null]);
            if (res?.status === 200 && res.body.equals(MEDIUM)) served++;
          }
          assert.equal(served, 200, `${200 - served} of 200 kept-alive connections were closed or not served`);
        } finally {
          for (const socket of sockets) socket.destroy();
          child.kill('SIGKILL');
        }
      });

      for (const forced of ['dup:EMFILE', 'pipe2:EMFILE', 'dup:ENFILE']) {
        it(`should send every body whole when ${forced.replace(':', ' fails with ')}`, async function () {
          this.timeout(60_000);
          const { child, port } = await startWith(c.name, `export SLUICE_FORCE_ERRNO=${forced}`);
          try {
            const downloads = await Promise.all(Array.from({ length: 8 }, () => download(port, '/big.bin')));
            downloads.forEach((res, i) => assertWhole(res, BIG, `download ${i}`));
            assertWhole(await download(port, '/medium.bin'), MEDIUM, 'medium');
            // Pipelined: the later bodies start after their head went out through Node.
            const [first, second, third] = await fetchMany(port, ['/medium.bin', '/big.bin', '/medium.bin']);
            assertWhole(first ?? null, MEDIUM, 'pipelined 1');
            assertWhole(second ?? null, BIG, 'pipelined 2');
            assertWhole(third ?? null, MEDIUM, 'pipelined 3');
            const ranges = await download(port, '/big.bin', { range: 'bytes=0-99,4194304-4194403,8388600-' });
            assert.equal(ranges?.status, 206);
            const text = ranges?.body.toString('latin1') ?? '';
            assert.ok(text.includes(BIG.subarray(4194304, 4194404).toString('latin1')), 'middle part');
            assert.equal(ranges?.body.length, Number(ranges?.headers['content-length']));
          } finally {
            child.kill('SIGKILL');
          }
        });
      }
    });
  }
});
