// The package as a user receives it: what `npm pack` puts in the tarball,
// and what that tarball does on a machine where the addon was never built
// (the tarball ships sources, not a build: one line says so, with the fix).
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';

const REPO = path.resolve(__dirname, '..', '..', '..');
const NPM_ENV = { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' };

interface PackFile {
  path: string;
  size: number;
}

interface Pkg {
  main: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  license: string;
  exports: Record<string, string | Record<string, string>>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Pkg;

/** The tarball's file list; --ignore-scripts: dist/ is already built by pretest. */
function packList(): PackFile[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, env: NPM_ENV, encoding: 'utf8' });
  const [entry] = JSON.parse(out) as { files: PackFile[] }[];
  return entry?.files ?? [];
}

/** Every relative require() in a shipped .js file, as a package path. */
function relativeRequires(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8');
  const specs = [...text.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)].map((m) => m[1] as string);
  return specs.map((s) => path.posix.join(path.posix.dirname(file), s));
}

describe('the npm package', function () {
  this.timeout(120_000);
  let files: string[] = [];

  before(() => {
    files = packList().map((f) => f.path);
  });

  describe('file list', () => {
    it('should ship the compiled library, its types, the addon sources and the legal files', () => {
      for (const needed of [
        'package.json',
        'README.md',
        'LICENSE',
        'native/binding.gyp',
        'native/build.js',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli.js',
        'dist/http-server-sluice.js',
        'dist/fastify.js',
        'dist/koa.js',
        'dist/koa.d.ts',
        'dist/hono.js',
        'dist/hono.d.ts',
        'dist/nest.js',
        'dist/nest.d.ts',
        'dist/fetch.js',
        'dist/fetch.d.ts',
      ]) {
        assert.ok(files.includes(needed), `${needed} is not in the tarball`);
      }
    });

    it('should ship nothing but dist/*.js and .d.ts, the addon sources and its build script', () => {
      const extra = files.filter(
        (f) =>
          !['package.json', 'README.md', 'LICENSE', 'native/binding.gyp', 'native/build.js'].includes(f) &&
          !/^dist\/.+\.(js|d\.ts)$/.test(f) &&
          !/^native\/src\/.+\.(cc|h)$/.test(f),
      );
      assert.deepEqual(extra, []);
    });

    it('should ship no build output, native tests, source maps or lint configuration', () => {
      const unwanted = files.filter((f) => /^native\/(build|test)\/|\.(o|node|map|mk)$|Makefile|CPPLINT|lint\.sh/.test(f));
      assert.deepEqual(unwanted, []);
    });

    it("should match something with every entry of package.json's files", () => {
      for (const entry of pkg.files) {
        const re = new RegExp(
          `^${entry
            .replace(/\./g, '\\.')
            .replace(/\*\*\//g, '(.+/)?')
            .replace(/\*/g, '[^/]*')}`,
        );
        assert.ok(
          files.some((f) => re.test(f)),
          `files entry ${entry} matches nothing`,
        );
      }
    });

    it('should ship every source binding.gyp compiles', () => {
      const gyp = fs.readFileSync(path.join(REPO, 'native', 'binding.gyp'), 'utf8');
      const sources = [...gyp.matchAll(/"(src\/[^"]+\.cc)"/g)].map((m) => `native/${m[1] as string}`);
      assert.ok(sources.length > 0);
      for (const s of sources) assert.ok(files.includes(s), `${s} is compiled but not shipped`);
      const headers = fs
        .readdirSync(path.join(REPO, 'native', 'src'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.h'))
        .map((f) => `native/src/${f}`);
      for (const h of headers) assert.ok(files.includes(h), `${h} is not shipped`);
    });

    it('should ship what main, types, bin and exports name, and every module they require', () => {
      const named = [pkg.main, pkg.types, ...Object.values(pkg.bin)];
      for (const target of Object.values(pkg.exports)) named.push(...(typeof target === 'string' ? [target] : Object.values(target)));
      for (const n of named) assert.ok(files.includes(path.posix.normalize(n)), `${n} is not shipped`);
      const missing = files
        .filter((f) => f.endsWith('.js') && f.startsWith('dist/'))
        .flatMap(relativeRequires)
        .filter((r) => !files.includes(r) && !files.includes(`${r}.js`) && !files.includes(`${r}/index.js`));
      assert.deepEqual(missing, []);
    });

    it("should carry an MIT LICENSE, as package.json's license says", () => {
      assert.equal(pkg.license, 'MIT');
      assert.match(fs.readFileSync(path.join(REPO, 'LICENSE'), 'utf8'), /^MIT License\n/);
    });
  });

  describe('installed without the addon', () => {
    let dir = '';
    let root = '';

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pack-'));
      execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, env: NPM_ENV, stdio: 'ignore' });
      const [tgz] = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'));
      execFileSync('tar', ['-xzf', path.join(dir, tgz as string), '-C', dir]);
      // The dependencies a user's install would bring, taken from the repo.
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'package', 'node_modules'));
      root = path.join(dir, 'site');
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, 'a.txt'), 'hello from the tarball\n');
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const env = (): NodeJS.ProcessEnv => {
      const e = { ...process.env };
      delete e.SLUICE_NATIVE_WARNED;
      delete e.SLUICE_DISABLE_NATIVE;
      return e;
    };

    it('should say once, in one line, that the addon is missing and how to fix it, from every library entry point', () => {
      const script = `
        const s = require(${JSON.stringify(path.join(dir, 'package'))});
        s.serveStatic(${JSON.stringify(root)});
        s.serveStatic(${JSON.stringify(root)});
        s.createHandler(${JSON.stringify(root)});
        s.createServer(${JSON.stringify(root)});
        console.log(s.serveStatic(${JSON.stringify(root)}).engine);`;
      const run = spawnSync(process.execPath, ['-e', script], { env: env(), encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'copy\n');
      const lines = run.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0] as string, /^sluice: native addon not built, .*copied.*install g\+\+ and make, then run `npm rebuild sluice`$/);
      assert.ok((lines[0] as string).length < 160, 'the line is short');
    });

    it('should say so once from the CLI, even with --workers 2, and serve', async () => {
      const child = spawn(process.execPath, [path.join(dir, 'package', 'dist', 'cli.js'), root, '--port', '0', '--workers', '2', '--no-compress'], {
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (c: Buffer) => {
            out += c.toString();
            const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
            if (m) resolve(m[0]);
          });
          child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
        });
        assert.match(out, /engine=copy workers=2/);
        const res = await request(`${url}/a.txt`);
        assert.equal(await res.body.text(), 'hello from the tarball\n');
        // Workers have started by now: none of them may repeat the line.
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(err.split('\n').filter(Boolean).length, 1, err);
        assert.match(err, /npm rebuild sluice/);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    });

    it('should name the fix when an engine that needs the addon is asked for', () => {
      const run = spawnSync(process.execPath, [path.join(dir, 'package', 'dist', 'cli.js'), root, '--engine', 'sendfile'], {
        env: env(),
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(run.status, 2);
      assert.match(run.stderr, /native addon not built; install g\+\+ and make, then run `npm rebuild sluice`/);
    });
  });
});
