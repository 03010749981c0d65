// -l unix:PATH and several -l: one server on each listener, the start line
// naming each, zero-copy engines on Unix sockets, stale socket files, the
// socket's mode, --workers on a Unix socket; and the library listening on
// a Unix socket itself.
import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { launchCli, runCli, startCli, stopCli } from '../helpers/cli';
import { scratchDir, sha256 } from '../helpers/fixtures';
import { createServer, engines, frontDoorUnavailableReason, type EngineName } from '../../server/src/index';
import { native } from '../../server/src/native';

function makeSite(): { root: string; big: Buffer } {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(root);
  const big = crypto.randomBytes(3 * 1024 * 1024 + 17);
  fs.writeFileSync(path.join(root, 'big.bin'), big);
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
  return { root, big };
}

/** GET over the Unix socket at `file`. */
async function getOverSocket(file: string, urlPath: string): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  const dispatcher = new Agent({ connect: { socketPath: file } });
  try {
    const res = await request(`http://localhost${urlPath}`, { dispatcher });
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()), headers: res.headers };
  } finally {
    await dispatcher.close();
  }
}

function refused(args: string[]): { status: number | null; stderr: string } {
  const r = runCli([...args]);
  return { status: r.status, stderr: r.stderr };
}

/** Resolves once `file` accepts connections (a worker listens through the primary). */
async function accepting(file: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(file, () => resolve(true)).once('error', () => resolve(false));
      c.once('connect', () => c.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never accepted`);
}

const zeroCopy = engines().filter((e) => e.name !== 'copy');

describe('cli: -l unix:PATH and several -l', function () {
  this.timeout(30_000);
  const { root, big } = makeSite();

  describe('a Unix socket and two TCP ports at once', () => {
    const sock = path.join(scratchDir(), 'sluice.sock');
    let child: ChildProcess;
    let lines: string;
    before(async () => {
      const started = await startCli([root, '-l', `unix:${sock}`, '-l', '127.0.0.1:0', '--listen', 'tcp://127.0.0.1:0']);
      child = started.child;
      lines = started.firstLine;
    });
    after(() => stopCli(child));

    it('should name every listener on the start line, in order', () => {
      assert.match(
        lines,
        new RegExp(`^sluice listening on unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} http://127\\.0\\.0\\.1:\\d+ http://127\\.0\\.0\\.1:\\d+ engine=`),
      );
      const ports = [...lines.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[1]);
      assert.equal(ports.length, 2);
      assert.notEqual(ports[0], ports[1]);
    });

    it('should serve the same bytes on each listener', async () => {
      const overSocket = await getOverSocket(sock, '/big.bin');
      assert.equal(overSocket.status, 200);
      assert.equal(sha256(overSocket.body), sha256(big));
      for (const port of [...lines.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[1])) {
        const res = await request(`http://127.0.0.1:${port}/big.bin`);
        assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(big));
      }
    });

    it('should make the socket by the umask (owner may connect, others may not, with umask 022)', () => {
      const stat = fs.statSync(sock);
      assert.ok(stat.isSocket());
      assert.equal(stat.mode & 0o200, 0o200);
    });

    it('should remove the socket file when it stops', async () => {
      await stopCli(child);
      assert.equal(fs.existsSync(sock), false);
    });
  });

  for (const e of zeroCopy) {
    it(`should send a body with --engine ${e.name} over a Unix socket`, async function () {
      if (!e.available) this.skip();
      const sock = path.join(scratchDir(), 's.sock');
      const started = await startCli([root, '-l', `unix:${sock}`, '-l', '127.0.0.1:0', '--engine', e.name]);
      try {
        assert.match(started.firstLine, new RegExp(`engine=${e.name} `));
        const res = await getOverSocket(sock, '/big.bin');
        assert.equal(sha256(res.body), sha256(big));
        assert.equal((await getOverSocket(sock, '/hello.txt')).body.toString(), 'hello, world\n');
      } finally {
        await stopCli(started.child);
      }
    });
  }

  it('should say the front door is off on the Unix socket and on for TCP', async function () {
    if (frontDoorUnavailableReason() !== '') this.skip();
    const sock = path.join(scratchDir(), 's.sock');
    // Asked for by name: this is about the front door, so it runs with it on under SLUICE_TEST_FRONT_DOOR=0 too.
    const started = await launchCli([root, '-l', '127.0.0.1:0', '-l', `unix:${sock}`, '--front-door']);
    const { child } = started;
    try {
      const out = (await started.waitFor(/^[^\n]*\n[^\n]*\n/))[0];
      const [first, second] = out.split('\n');
      assert.match(first, /front-door=on /);
      assert.equal(second, `sluice: unix:${sock}: front door off (a Unix socket: the front door answers TCP connections only)`);
      assert.equal((await getOverSocket(sock, '/hello.txt')).status, 200);
    } finally {
      await stopCli(child);
    }
  });

  it('should remove a stale socket file (its server was killed) and listen there', async () => {
    const sock = path.join(scratchDir(), 'stale.sock');
    const dead = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.equal(dead.signal, 'SIGKILL');
    assert.ok(fs.statSync(sock).isSocket());
    const started = await startCli([root, '-l', `unix:${sock}`, '-l', '127.0.0.1:0']);
    try {
      assert.equal((await getOverSocket(sock, '/hello.txt')).status, 200);
    } finally {
      await stopCli(started.child);
    }
  });

  it('should refuse a socket a live server accepts on, and leave it alone', async () => {
    const sock = path.join(scratchDir(), 'live.sock');
    const live = net.createServer((c) => c.end()).listen(sock);
    await new Promise((r) => live.once('listening', r));
    try {
      const r = refused([root, '-l', `unix:${sock}`]);
      assert.equal(r.status, 2);
      assert.match(
        r.stderr,
        new RegExp(`sluice: cannot listen on unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: in use: a live server accepts connections on it`),
      );
      assert.ok(fs.statSync(sock).isSocket());
    } finally {
      await new Promise((r) => live.close(r));
    }
  });

  it('should refuse a path that is not a socket, and leave it alone', () => {
    const file = path.join(scratchDir(), 'not-a-socket');
    fs.writeFileSync(file, 'keep me');
    const r = refused([root, '-l', `unix:${file}`]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /exists and is not a socket/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
  });

  it('should set --socket-mode on the socket', async () => {
    const sock = path.join(scratchDir(), 'mode.sock');
    const started = await startCli([root, '-l', `unix:${sock}`, '-l', '127.0.0.1:0', '--socket-mode', '660']);
    try {
      assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
    } finally {
      await stopCli(started.child);
    }
  });

  const bad: [string[], RegExp][] = [
    [['-l', 'unix:'], /invalid --listen 'unix:'/],
    [['-l', `unix:/${'x'.repeat(120)}`], /invalid --listen .*at most 107 bytes/],
    [['-l', 'pipe:\\\\.\\pipe\\sluice'], /invalid --listen .*named pipes are Windows's/],
    [['-l', 'ftp://x:1'], /invalid --listen 'ftp:\/\/x:1' \(expected PORT, HOST:PORT, tcp:\/\/HOST:PORT or unix:PATH\)/],
    [['-l', '0', '-l', '127.0.0.1:0', '--port', '0'], /--port goes with one TCP --listen at most/],
    [['-l', 'unix:/tmp/x.sock', '--port', '0'], /--port goes with one TCP --listen at most/],
    [['-l', '127.0.0.1:8080', '-l', 'tcp://127.0.0.1:8080'], /--listen http:\/\/127\.0\.0\.1:8080 given twice|--listen tcp:\/\/127\.0\.0\.1:8080 given twice/],
    [['-l', 'unix:/tmp/x.sock', '--socket-mode', '999'], /invalid --socket-mode '999'/],
    [['--port', '0', '--socket-mode', '660'], /--socket-mode needs a --listen unix:PATH/],
  ];
  for (const [args, message] of bad) {
    it(`should refuse ${args.join(' ')} with exit code 2`, () => {
      const r = refused([root, ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('should list -l unix: and --socket-mode in --help', () => {
    const r = runCli(['--help']);
    assert.match(r.stdout, /-l, --listen URI .*unix:PATH/);
    assert.match(r.stdout, /--socket-mode M/);
  });

  describe('--workers 2 on a Unix socket', () => {
    const sock = path.join(scratchDir(), 'workers.sock');
    let child: ChildProcess;
    before(async () => {
      const started = await startCli([root, '-l', `unix:${sock}`, '-l', '127.0.0.1:0', '--workers', '2']);
      child = started.child;
      assert.match(started.firstLine, /workers=2 /);
      await accepting(sock);
    });
    after(() => stopCli(child));

    it('should serve every request through the one socket node:cluster shares', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, () => getOverSocket(sock, '/big.bin')));
      for (const r of results) assert.equal(sha256(r.body), sha256(big));
    });

    it('should keep serving on the socket after a worker is killed, and remove it at exit', async () => {
      const pids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
      assert.ok(pids.length >= 2, `workers: ${pids.join(',')}`);
      process.kill(Number(pids[0]), 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      await accepting(sock);
      for (let i = 0; i < 4; i++) assert.equal((await getOverSocket(sock, '/hello.txt')).status, 200);
      await stopCli(child);
      assert.equal(fs.existsSync(sock), false);
    });
  });
});

describe('library: createServer().listen(path) on a Unix socket', function () {
  this.timeout(20_000);
  const { root, big } = makeSite();
  const binding = native.binding;
  for (const e of zeroCopy) {
    it(`should move the body with the addon under engine ${e.name}, front door off`, async function () {
      if (!e.available || binding === null) this.skip();
      const calls: string[] = [];
      const names = ['sendfile', 'sendSegments', 'uringSend'] as const;
      const saved = names.map((n) => binding[n]);
      for (const n of names) {
        const original = binding[n] as (...args: unknown[]) => unknown;
        if (typeof original !== 'function') continue;
        (binding as unknown as Record<string, unknown>)[n] = (...args: unknown[]) => {
          calls.push(n);
          return original.apply(binding, args);
        };
      }
      const sock = path.join(scratchDir(), 'lib.sock');
      const server = createServer(root, { engine: e.name as EngineName, smallFileMax: 0 });
      try {
        await new Promise<void>((resolve) => server.listen(sock, resolve));
        const res = await getOverSocket(sock, '/big.bin');
        assert.equal(sha256(res.body), sha256(big));
        assert.ok(calls.length > 0, `no native transfer under ${e.name}`);
        assert.equal(server.sluice.frontDoor?.active() ?? false, false);
        if (server.sluice.frontDoor) assert.match(server.sluice.frontDoorNote, /a Unix socket/);
      } finally {
        names.forEach((n, i) => ((binding as unknown as Record<string, unknown>)[n] = saved[i]));
        await new Promise((r) => server.close(r));
      }
    });
  }
});
