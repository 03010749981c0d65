// The CLI contract other tools drive: flags, the first line, exit codes.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { request } from 'undici';
import { fixtures, sha256 } from '../helpers/fixtures';
import { engineCases } from '../helpers/server';
import { launchCli, runCli, stopCli, type StartedCli } from '../helpers/cli';
import { frontDoorUnavailableReason } from '../../server/src/index';

/** Starts the CLI and resolves at its first stdout line. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<StartedCli> {
  return launchCli(args, { env, ready: 'line' });
}

/** The second stdout line (the first is the start line). */
async function nextLine(started: StartedCli): Promise<string> {
  return (await started.waitFor(/^[^\n]*\n([^\n]*)\n/))[1] as string;
}

describe('cli', () => {
  const fx = fixtures();

  it('should print the URL and the engine on the first line, and serve', async () => {
    const { child, firstLine } = await start([fx.root, '--port', '0', '--host', '127.0.0.1']);
    try {
      const url = /http:\/\/127\.0\.0\.1:(\d+)/.exec(firstLine)?.[0];
      assert.ok(url, firstLine);
      assert.match(firstLine, /engine=(sendfile|splice|io_uring|copy)/);
      const res = await request(`${url}/size-1048579.bin`);
      assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(fx.bytes('/size-1048579.bin')));
    } finally {
      assert.equal(await stopCli(child), 0, 'SIGTERM should exit 0');
    }
  });

  it('should honour PORT and HOST from the environment', async () => {
    const { child, firstLine } = await start([fx.root], { PORT: '0', HOST: '127.0.0.1' });
    try {
      assert.match(firstLine, /http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await stopCli(child);
    }
  });

  for (const c of engineCases().filter((e) => e.name !== 'auto')) {
    if (c.available) {
      it(`should serve with --engine ${c.name}`, async () => {
        const { child, firstLine } = await start([fx.root, '--port', '0', '--engine', c.name]);
        try {
          assert.match(firstLine, new RegExp(`engine=${c.name}\\b`));
        } finally {
          await stopCli(child);
        }
      });
    } else {
      it(`should refuse --engine ${c.name} with the reason (${c.reason})`, () => {
        const r = runCli([fx.root, '--port', '0', '--engine', c.name]);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, new RegExp(`${c.name} engine is not available`));
      });
    }
  }

  it('should serve from --workers 2, replace a killed worker, and exit 0 on SIGTERM', async () => {
    const { child, firstLine } = await start([fx.root, '--port', '0', '--workers', '2']);
    let exited = false;
    try {
      assert.match(firstLine, /workers=2/);
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(firstLine)?.[0];
      for (let i = 0; i < 4; i++) {
        const res = await request(`${url}/hello.txt`, { reset: true });
        assert.equal(await res.body.text(), 'hello, world\n');
      }
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const workers = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n');
      process.kill(Number(workers[0]), 'SIGKILL');
      const until = Date.now() + 10_000;
      while (!/starting another/.test(stderr) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.match(stderr, /starting another/);
      const res = await request(`${url}/hello.txt`, { reset: true });
      assert.equal(res.statusCode, 200);
      await res.body.arrayBuffer();
      assert.equal(await stopCli(child), 0);
      exited = true;
    } finally {
      if (!exited) child.kill('SIGKILL');
    }
  });

  for (const door of [['--no-front-door'], ['--front-door']]) {
    it(`should write one combined-format access log line per response with --log ${door.join(' ')}`, async () => {
      const { child, firstLine } = await start([fx.root, '--port', '0', '--log', ...door]);
      try {
        const url = /http:\/\/127\.0\.0\.1:\d+/.exec(firstLine)?.[0];
        let out = '';
        child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
        // Twice: with the front door the second comes from its kept reply.
        for (let i = 0; i < 2; i++) {
          const res = await request(`${url}/hello.txt`, { headers: { 'user-agent': 'evil"\tagent' } });
          await res.body.arrayBuffer();
        }
        const line = /127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/hello\.txt HTTP\/1\.1" 200 13 "-" "evil\\x22\\x09agent"\n/g;
        const until = Date.now() + 5000;
        while ((out.match(line) ?? []).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        const logged = out.split('\n').filter((l) => !l.startsWith('sluice: ') && l !== '');
        assert.equal(logged.length, 2, out);
        assert.equal((out.match(line) ?? []).length, 2, out);
      } finally {
        await stopCli(child);
      }
    });
  }

  it('should say why auto did without io_uring (io_uring_setup: EPERM, as under Docker)', async () => {
    const started = await start([fx.root, '--port', '0'], { SLUICE_FORCE_ERRNO: 'io_uring_setup:EPERM' });
    const { child } = started;
    try {
      const second = await nextLine(started);
      assert.match(second, /unavailable here: .*io_uring: io_uring_setup: EPERM/);
    } finally {
      await stopCli(child);
    }
  });

  it('should serve on copy, saying so once, when the addon is missing', async () => {
    const started = await start([fx.root, '--port', '0'], { SLUICE_DISABLE_NATIVE: '1' });
    const { child, firstLine } = started;
    try {
      assert.match(firstLine, /engine=copy/);
      assert.match(await nextLine(started), /engine copy \(auto\) \(unavailable here: .*sendfile: native addon disabled/);
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(firstLine)?.[0];
      const res = await request(`${url}/size-1048579.bin`);
      assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(fx.bytes('/size-1048579.bin')));
    } finally {
      await stopCli(child);
    }
  });

  it('should refuse an unknown engine, a bad port and a missing root', () => {
    const run = (args: string[]) => runCli([...args]);
    const unknown = run([fx.root, '--engine', 'warp']);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /engine/);
    const port = run([fx.root, '--port', '99999']);
    assert.notEqual(port.status, 0);
    assert.match(port.stderr, /invalid port/);
    const missing = run([path.join(fx.root, 'nope'), '--port', '0']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /ENOENT/);
  });

  it('should refuse a --max-chunk below 4096 bytes and a bad --drain-timeout, naming the flag', () => {
    const run = (args: string[]) => runCli([fx.root, '--port', '0', ...args]);
    for (const value of ['1', '4095', '0', '-5', 'lots', '4096.5']) {
      const r = run([`--max-chunk=${value}`]);
      assert.equal(r.status, 2, `--max-chunk ${value}`);
      assert.match(r.stderr, /--max-chunk/);
      assert.match(r.stderr, /4096/);
    }
    const r = run(['--drain-timeout', 'soon']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--drain-timeout/);
    for (const value of ['-1', '16k', '1048577', '2.5']) {
      const s = run([`--small-file-max=${value}`]);
      assert.equal(s.status, 2, `--small-file-max ${value}`);
      assert.match(s.stderr, /invalid --small-file-max '.*' \(expected bytes, from 0 to 1048576\)/);
    }
  });

  it('should document every flag in --help', () => {
    const r = runCli(['--help']);
    assert.equal(r.status, 0);
    for (const flag of [
      '--host',
      '--port',
      '--engine',
      '--engines',
      '--dotfiles',
      '--max-age',
      '--max-chunk',
      '--small-file-max',
      '--no-index',
      '--workers',
      '--log',
      '--send-timeout',
      '--keep-alive-timeout',
      '--headers-timeout',
      '--request-timeout',
      '--drain-timeout',
      '--no-front-door',
      '--help',
      '--version',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });

  it('should answer through the front door by default, and say so on the first line', async function () {
    const reason = frontDoorUnavailableReason();
    if (reason !== '') this.skip(); // the copy-only build: the next test covers the refusal to pretend
    const { child, firstLine } = await start([fx.root, '--port', '0', '--host', '127.0.0.1', '--no-compress']);
    try {
      const wanted = process.env.SLUICE_TEST_FRONT_DOOR === '0' ? 'off' : 'on';
      assert.match(firstLine, new RegExp(` workers=1 front-door=${wanted} root=`));
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(firstLine)?.[0];
      for (let i = 0; i < 3; i++) {
        const res = await request(`${url}/size-1048579.bin`);
        assert.equal(res.statusCode, 200);
        assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(fx.bytes('/size-1048579.bin')));
      }
    } finally {
      assert.equal(await stopCli(child), 0, 'SIGTERM should exit 0');
    }
  });

  it('should turn the front door off with --no-front-door, and refuse both flags at once', async () => {
    const { child, firstLine } = await start([fx.root, '--port', '0', '--host', '127.0.0.1', '--no-front-door']);
    await stopCli(child);
    assert.match(firstLine, / front-door=off root=/);
    const both = runCli([fx.root, '--port', '0', '--front-door', '--no-front-door']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /--front-door and --no-front-door contradict each other/);
  });

  it('should say why --front-door is off, and refuse it with TLS', async () => {
    const started = await start([fx.root, '--port', '0', '--host', '127.0.0.1', '--front-door', '--engine', 'copy']);
    const { child, firstLine } = started;
    try {
      assert.match(firstLine, / front-door=off root=/);
      assert.equal(await nextLine(started), 'sluice: front door off (the copy engine was chosen)');
    } finally {
      await stopCli(child);
    }
    const run = (args: string[]) => runCli([fx.root, '--port', '0', '--front-door', ...args]);
    const tls = run(['--ssl-cert', __filename, '--ssl-key', __filename]);
    assert.equal(tls.status, 2);
    assert.match(tls.stderr, /--front-door serves plain HTTP only/);
  });

  it('should list engines with --engines', () => {
    const r = runCli(['--engines']);
    assert.equal(r.status, 0);
    for (const name of ['io_uring', 'splice', 'sendfile', 'copy']) assert.match(r.stdout, new RegExp(`^${name}\\s`, 'm'));
    assert.match(r.stdout, /^front door (available \(on unless --no-front-door\)|unavailable: .+)$/m);
  });
});

describe('package', () => {
  it('should export the public API through require()', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sluice = require(path.resolve(__dirname, '..', '..', '..')) as Record<string, unknown>;
    for (const name of ['createServer', 'createHandler', 'serveStatic', 'engines']) assert.equal(typeof sluice[name], 'function', name);
  });
});
