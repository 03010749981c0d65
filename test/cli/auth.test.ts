// HTTP Basic authentication: --auth / --auth-file / $SLUICE_AUTH and the
// library's `auth` option, scrypt and bcrypt hashes, 401 with the
// challenge, the health path left open, and the front door never serving a
// kept reply to a request without the credentials it was made for.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import { CLI, runCli, startCli, stopCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { createServer, frontDoorUnavailableReason, serveStatic } from '../../server/src/index';
import { scryptHash } from '../../server/src/auth';

function makeSite(): string {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'index.html'), '<p>secret home</p>\n');
  fs.writeFileSync(path.join(root, 'secret.txt'), 'the secret\n');
  return root;
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(url, { method, headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

function refused(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string } {
  const r = runCli([...args, '--port', '0'], { env });
  return { status: r.status, stderr: r.stderr };
}

// Cheap parameters: the tests check the format, not the cost.
const ALICE = scryptHash('wonderland', 1024, 8, 1);
const BOB = bcrypt.hashSync('builder', 4);

describe('cli: --auth', function () {
  this.timeout(30_000);
  const root = makeSite();

  describe('scrypt and bcrypt users, --health, the front door on by default', () => {
    let child: ChildProcess;
    let base: string;
    before(async () => {
      const started = await startCli([
        root,
        '--port',
        '0',
        '--auth',
        `alice:${ALICE}`,
        '--auth',
        `bob:${BOB}`,
        '--health',
        '/healthz',
        '--auth-realm',
        'staging',
      ]);
      child = started.child;
      base = `http://127.0.0.1:${started.port}`;
    });
    after(() => stopCli(child));

    it('should answer 401 with the challenge and no file bytes without credentials', async () => {
      for (const p of ['/', '/secret.txt', '/missing']) {
        const res = await get(base + p);
        assert.equal(res.status, 401, p);
        assert.equal(res.headers['www-authenticate'], 'Basic realm="staging", charset="UTF-8"');
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.doesNotMatch(res.body, /secret/);
      }
    });

    it('should answer 401 to a wrong password, an unknown user and a malformed header', async () => {
      for (const authorization of [basic('alice', 'wrong'), basic('mallory', 'wonderland'), 'Basic !!!', 'Bearer x', basic('alice', '')]) {
        assert.equal((await get(`${base}/secret.txt`, { authorization })).status, 401, authorization);
      }
    });

    it('should serve a scrypt user and a bcrypt user', async () => {
      const alice = await get(`${base}/secret.txt`, { authorization: basic('alice', 'wonderland') });
      assert.equal(alice.status, 200);
      assert.equal(alice.body, 'the secret\n');
      const bob = await get(`${base}/secret.txt`, { authorization: basic('bob', 'builder') });
      assert.equal(bob.body, 'the secret\n');
    });

    it('should never serve a reply it answered with credentials to a request without them (front door)', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await get(`${base}/secret.txt`, { authorization: basic('alice', 'wonderland') })).status, 200);
      for (let i = 0; i < 3; i++) {
        assert.equal((await get(`${base}/secret.txt`)).status, 401);
        assert.equal((await get(`${base}/secret.txt`, { authorization: basic('alice', 'wonderlanD') })).status, 401);
        assert.equal((await get(`${base}/secret.txt`, {}, 'HEAD')).status, 401);
      }
    });

    it('should leave the health path open', async () => {
      const res = await get(`${base}/healthz`);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'ok');
    });
  });

  it('should take users from --auth-file and $SLUICE_AUTH', async () => {
    const file = path.join(scratchDir(), 'users');
    fs.writeFileSync(file, `# staging users\n\nalice:${ALICE}\n`);
    const started = await startCli([root, '--port', '0', '--auth-file', file], process.execPath, [CLI], { SLUICE_AUTH: `bob:${BOB}` });
    try {
      const base = `http://127.0.0.1:${started.port}`;
      assert.equal((await get(`${base}/secret.txt`)).status, 401);
      assert.equal((await get(`${base}/secret.txt`, { authorization: basic('alice', 'wonderland') })).status, 200);
      assert.equal((await get(`${base}/secret.txt`, { authorization: basic('bob', 'builder') })).status, 200);
    } finally {
      await stopCli(started.child);
    }
  });

  it('should warn on stderr that a plain:PASSWORD is in the clear', () => {
    const r = runCli([root, '--port', '0', '--auth', 'carol:plain:s3cret'], { timeoutMs: 2000 });
    assert.match(r.stderr, /warning: --auth for 'carol' holds its password in the clear/);
    assert.doesNotMatch(r.stderr, /s3cret/);
  });

  it('should serve plain:PASSWORD users and warn that the password is in the clear', async () => {
    const started = await startCli([root, '--port', '0', '--auth', 'carol:plain:s3cret']);
    try {
      const base = `http://127.0.0.1:${started.port}`;
      assert.equal((await get(`${base}/secret.txt`, { authorization: basic('carol', 's3cret') })).status, 200);
      assert.equal((await get(`${base}/secret.txt`, { authorization: basic('carol', 's3creT') })).status, 401);
    } finally {
      await stopCli(started.child);
    }
  });

  const bad: [string[], RegExp, NodeJS.ProcessEnv?][] = [
    [['--auth', 'alice:hunter2'], /invalid --auth for 'alice' \(expected a scrypt:N:r:p:SALT:HASH or bcrypt/],
    [['--auth', 'alice'], /invalid --auth entry \(expected USER:HASH\)/],
    [['--auth', 'alice:scrypt:1000:8:1:c2FsdHNhbHQ=:aGFzaGhhc2hoYXNoaGFzaA=='], /invalid --auth for 'alice' \(scrypt needs N a power of two/],
    [['--auth', `alice:${ALICE}`, '--auth', `alice:${BOB}`], /user 'alice' given twice/],
    [['--auth-realm', 'x'], /--auth-realm needs --auth/],
    [['--auth', `alice:${ALICE}`, '--auth-realm', 'a"b'], /invalid --auth-realm/],
    [['--auth-file', '/nonexistent/users'], /cannot read --auth-file \/nonexistent\/users: ENOENT/],
    [[], /invalid \$SLUICE_AUTH for 'dave'/, { SLUICE_AUTH: 'dave:password' }],
  ];
  for (const [args, message, env] of bad) {
    it(`should refuse ${args.join(' ') || JSON.stringify(env)} with exit code 2, never echoing a password`, () => {
      const r = refused([root, ...args], env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /hunter2|password'/);
    });
  }

  it('should print a hash --auth takes with sluice hash-password', async () => {
    const r = runCli(['hash-password'], { input: 'open sesame\n' });
    assert.equal(r.status, 0, r.stderr);
    const hash = r.stdout.trim();
    assert.match(hash, /^scrypt:16384:8:1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    const started = await startCli([root, '--port', '0', '--auth', `ali:${hash}`]);
    try {
      assert.equal((await get(`http://127.0.0.1:${started.port}/secret.txt`, { authorization: basic('ali', 'open sesame') })).status, 200);
    } finally {
      await stopCli(started.child);
    }
  });

  it('should list --auth, --auth-file, --auth-realm and hash-password in --help', () => {
    const out = runCli(['--help']).stdout;
    for (const word of ['--auth USER:HASH', '--auth-file FILE', '--auth-realm R', 'sluice hash-password', 'SLUICE_AUTH']) assert.ok(out.includes(word), word);
  });
});

describe('library: the auth option', function () {
  this.timeout(20_000);
  const root = makeSite();
  const auth = { users: { alice: ALICE, bob: BOB }, realm: 'lib' };

  it('should guard createServer, the front door keeping replies only for the very same credentials', async () => {
    const server = createServer(root, { auth });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await get(`${base}/secret.txt`)).headers['www-authenticate'], 'Basic realm="lib", charset="UTF-8"');
      for (let i = 0; i < 6; i++) assert.equal((await get(`${base}/secret.txt`, { authorization: basic('bob', 'builder') })).body, 'the secret\n');
      const door = server.sluice.frontDoor;
      if (frontDoorUnavailableReason() === '' && door !== null) {
        assert.ok(door.active());
        assert.ok(door.stats().hits > 0, 'the front door kept the authorised reply');
      }
      for (let i = 0; i < 3; i++) {
        assert.equal((await get(`${base}/secret.txt`)).status, 401);
        assert.equal((await get(`${base}/secret.txt`, { authorization: basic('bob', 'builde') })).status, 401);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('should guard serveStatic middleware', async () => {
    const mw = serveStatic(root, { auth });
    const server = http.createServer((req, res) =>
      mw(req, res, () => {
        res.statusCode = 404;
        res.end('next');
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await get(`${base}/secret.txt`)).status, 401);
      assert.equal((await get(`${base}/secret.txt`, { authorization: basic('alice', 'wonderland') })).body, 'the secret\n');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('should check one header once while requests with it arrive together', async () => {
    // The module object itself (an import's namespace is read-only): auth.ts reads scrypt from it per call.
    const crypto = createRequire(__filename)('node:crypto') as { scrypt: unknown };
    const calls = { n: 0 };
    const real = crypto.scrypt;
    crypto.scrypt = (...args: unknown[]) => {
      calls.n++;
      return (real as (...a: unknown[]) => void)(...args);
    };
    const server = createServer(root, { auth: { users: { carol: scryptHash('together', 4096, 8, 1) } }, frontDoor: false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const statuses = await Promise.all(
        Array.from({ length: 30 }, () => get(`${base}/secret.txt`, { authorization: basic('carol', 'together') }).then((r) => r.status)),
      );
      assert.deepEqual(new Set(statuses), new Set([200]));
      assert.equal(calls.n, 1);
    } finally {
      crypto.scrypt = real;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('should refuse a bad auth option with ERR_INVALID_ARG_VALUE', () => {
    for (const bad of [{ users: {} }, { users: { alice: 'hunter2' } }, { users: { 'a:b': ALICE } }, { users: { alice: ALICE }, realm: 'a"b' }, 'alice']) {
      assert.throws(() => createServer(root, { auth: bad as never }), { code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});
