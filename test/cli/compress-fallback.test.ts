// The compress cache when its default directory cannot be written: a
// server run as nobody with HOME=/root uses a private directory under the
// temporary one (0700, its own) instead of giving up, and refuses one that
// someone else made first. Needs root (to run the server as nobody).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { CLI, launchCli, stopCli, type StartedCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';

const NOBODY = 65534;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const INDEX = path.resolve(CLI, '..', 'index.js');

/** A site and a temporary directory nobody can use (the scratch directory itself is 0700). */
function makeWorld(): { root: string; tmp: string } {
  const base = scratchDir();
  fs.chmodSync(base, 0o755);
  const root = path.join(base, 'site');
  fs.mkdirSync(root, { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'app.js'), `${'console.log("compress me");\n'.repeat(400)}`, { mode: 0o644 });
  const tmp = path.join(base, 'tmp');
  fs.mkdirSync(tmp);
  fs.chmodSync(tmp, 0o1777);
  return { root, tmp };
}

/** Runs `args` with node as nobody, HOME=/root, TMPDIR=tmp; resolves on the first 127.0.0.1:PORT printed. */
function startAsNobody(args: string[], tmp: string): Promise<StartedCli> {
  return launchCli(args, { commandArgs: [], uid: NOBODY, gid: NOBODY, env: { HOME: '/root', TMPDIR: tmp, XDG_CACHE_HOME: undefined } });
}

/** The Content-Encoding of /app.js for a client accepting br, once the variant is made (or after `ms`). */
async function codingAfterWarmUp(port: number, ms: number): Promise<string | undefined> {
  const until = Date.now() + ms;
  let coding: string | undefined;
  do {
    const res = await request(`http://127.0.0.1:${port}/app.js`, { headers: { 'accept-encoding': 'br' } });
    await res.body.arrayBuffer();
    coding = res.headers['content-encoding'] as string | undefined;
    if (coding !== undefined) return coding;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < until);
  return coding;
}

function checkPrivateDir(tmp: string): void {
  const dir = path.join(tmp, `sluice-${NOBODY}`);
  const stat = fs.lstatSync(dir);
  assert.ok(stat.isDirectory());
  assert.equal(stat.uid, NOBODY);
  assert.equal(stat.mode & 0o777, 0o700);
  assert.ok(fs.readdirSync(path.join(dir, 'compressed')).length > 0, 'variants in the private directory');
}

const cases: [string, (root: string) => string[]][] = [
  ['cli', (root) => [CLI, root, '--port', '0', '--no-front-door']],
  [
    'library (compress: true)',
    (root) => [
      '-e',
      `const s = require(${JSON.stringify(INDEX)}).createServer(${JSON.stringify(root)}, { compress: true });` +
        `s.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + s.address().port));` +
        `process.on('SIGTERM', () => process.exit(0));`,
    ],
  ],
];

describe('compress cache: a default directory that cannot be written (run as nobody, HOME=/root)', function () {
  this.timeout(30_000);
  before(function () {
    if (!isRoot) this.skip();
    // A Node installed under a 0700 home (CI's newer Node lines, in
    // /root/.cache) cannot be run by nobody at all: say so and skip.
    const probe = spawnSync(process.execPath, ['-e', ''], { uid: NOBODY, gid: NOBODY });
    if (probe.error !== undefined || probe.status !== 0) {
      process.stderr.write(`      skipped: nobody cannot run ${process.execPath} (${probe.error?.message ?? `exit ${probe.status}`})\n`);
      this.skip();
    }
  });

  for (const [what, argsFor] of cases) {
    it(`should use a private 0700 directory under the temporary one [${what}]`, async () => {
      const { root, tmp } = makeWorld();
      const started = await startAsNobody(argsFor(root), tmp);
      try {
        assert.equal(await codingAfterWarmUp(started.port, 15_000), 'br');
        checkPrivateDir(tmp);
        assert.match(started.stderr(), /compress cache in .*sluice-65534\/compressed \(\/root\/\.cache\/sluice\/compressed: EACCES\)/);
      } finally {
        await stopCli(started.child);
      }
    });
  }

  it('should refuse a private directory someone else made first, and compress nothing', async () => {
    const { root, tmp } = makeWorld();
    const planted = path.join(tmp, `sluice-${NOBODY}`);
    fs.mkdirSync(planted, { mode: 0o777 });
    fs.chmodSync(planted, 0o777);
    const started = await startAsNobody([CLI, root, '--port', '0', '--no-front-door'], tmp);
    try {
      assert.equal(await codingAfterWarmUp(started.port, 1500), undefined);
      assert.match(started.stderr(), /no compress cache \(.*EACCES; .*sluice-65534\/compressed: EPERM\)/);
      assert.deepEqual(fs.readdirSync(planted), []);
      assert.equal(fs.statSync(planted).uid, 0);
    } finally {
      await stopCli(started.child);
    }
  });
});
