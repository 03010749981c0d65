// The `symlinks` option on every engine: 'follow' (serve-static's
// behaviour), 'within-root' (nothing whose real path leaves the real root)
// and 'deny' (no link below root at all), for files, directories on the
// way, index files and precompressed variants.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { serveStatic, type SymlinkPolicy } from '../../server/src/index';
import { scratchDir } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

interface Layout {
  /** The real root directory. */
  root: string;
  /** A link to root: serving through it must change nothing. */
  rootLink: string;
}

function makeLayout(): Layout {
  const base = scratchDir();
  const root = path.join(base, 'public');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(path.join(root, 'real-dir'), { recursive: true });
  fs.mkdirSync(path.join(outside, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(root, 'real.txt'), 'real\n');
  fs.writeFileSync(path.join(root, 'real-dir', 'inner.txt'), 'inner\n');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside the root\n');
  fs.writeFileSync(path.join(outside, 'dir', 'index.html'), 'outside the root\n');
  fs.writeFileSync(path.join(outside, 'secret.js.gz'), 'outside the root\n');
  fs.writeFileSync(path.join(root, 'app.js'), 'inside\n');
  fs.symlinkSync('real.txt', path.join(root, 'link-inside.txt'));
  fs.symlinkSync('real-dir', path.join(root, 'dir-link-inside'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link-outside.txt'));
  fs.symlinkSync('../outside/dir', path.join(root, 'dir-link-outside'));
  fs.symlinkSync(path.join(outside, 'secret.js.gz'), path.join(root, 'app.js.gz'));
  fs.symlinkSync('loop-b', path.join(root, 'loop-a'));
  fs.symlinkSync('loop-a', path.join(root, 'loop-b'));
  const rootLink = path.join(base, 'public-link');
  fs.symlinkSync(root, rootLink);
  return { root, rootLink };
}

type Expect = 200 | 403 | 404;

// target → [follow, within-root, deny]
const TABLE: Array<[string, Expect, Expect, Expect]> = [
  ['/real.txt', 200, 200, 200],
  ['/real-dir/inner.txt', 200, 200, 200],
  ['/link-inside.txt', 200, 200, 403],
  ['/dir-link-inside/inner.txt', 200, 200, 403],
  ['/link-outside.txt', 200, 403, 403],
  ['/dir-link-outside/', 200, 403, 403],
  ['/dir-link-outside/index.html', 200, 403, 403],
];

const POLICIES: SymlinkPolicy[] = ['follow', 'within-root', 'deny'];

forEachEngine('symlinks', (engine) => {
  const layout = makeLayout();
  const servers: TestServer[] = [];
  const byPolicy = new Map<string, TestServer>();
  let agent: Agent;
  before(async () => {
    agent = new Agent();
    for (const symlinks of POLICIES) {
      for (const root of [layout.root, layout.rootLink]) {
        const server = await startServer(root, { engine, symlinks });
        servers.push(server);
        byPolicy.set(`${symlinks}:${root}`, server);
      }
    }
  });
  after(async () => {
    await agent.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  const get = async (server: TestServer, target: string, headers: Record<string, string> = {}) => {
    const res = await agent.request({ origin: server.url, path: target, method: 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  POLICIES.forEach((policy, column) => {
    describe(`with symlinks: '${policy}'`, () => {
      for (const viaLink of [false, true]) {
        for (const row of TABLE) {
          const [target] = row;
          const expected = row[column + 1] as Expect;
          it(`should answer ${target} with ${expected}${viaLink ? ' (root given as a link)' : ''}`, async () => {
            const server = byPolicy.get(`${policy}:${viaLink ? layout.rootLink : layout.root}`);
            assert.ok(server);
            const res = await get(server, target);
            assert.equal(res.status, expected);
            if (expected !== 200) {
              assert.ok(!res.body.includes('outside the root'), 'no byte of the refused file');
              assert.ok(!res.body.includes(layout.root), 'no path in the error page');
            }
          });
        }
      }

      it('should refuse a link loop with 403 and keep serving', async () => {
        const server = byPolicy.get(`${policy}:${layout.root}`);
        assert.ok(server);
        assert.equal((await get(server, '/loop-a')).status, 403);
        assert.equal((await get(server, '/real.txt')).status, 200);
      });

      it('should treat a precompressed variant like any file', async () => {
        const server = byPolicy.get(`${policy}:${layout.root}`);
        assert.ok(server);
        const res = await get(server, '/app.js', { 'accept-encoding': 'gzip' });
        assert.equal(res.status, 200);
        if (policy === 'follow') {
          assert.equal(res.headers['content-encoding'], 'gzip');
        } else {
          // The variant leaves the root: the original is sent instead.
          assert.equal(res.headers['content-encoding'], undefined);
          assert.equal(res.body, 'inside\n');
        }
      });
    });
  });

  describe('in middleware', () => {
    it('should pass a refused link on to the next handler, or to next(err) without fallthrough', async () => {
      const app = express();
      app.use('/a', serveStatic(layout.root, { engine, symlinks: 'within-root' }));
      app.use('/b', serveStatic(layout.root, { engine, symlinks: 'within-root', fallthrough: false }));
      app.use((_req, res) => {
        res.status(404).send('app 404');
      });
      app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(err.status ?? 500).send('app error');
      });
      const server = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const a = await agent.request({ origin: url, path: '/a/link-outside.txt', method: 'GET' });
        assert.equal(a.statusCode, 404);
        assert.equal(await a.body.text(), 'app 404');
        const b = await agent.request({ origin: url, path: '/b/link-outside.txt', method: 'GET' });
        assert.equal(b.statusCode, 403);
        assert.equal(await b.body.text(), 'app error');
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe('when a link is swapped to point outside', () => {
    it('should refuse it once the open-file table sees the change', async function () {
      this.timeout(10_000);
      const server = byPolicy.get(`within-root:${layout.root}`);
      assert.ok(server);
      const link = path.join(layout.root, 'swapped.txt');
      fs.symlinkSync('real.txt', link);
      try {
        assert.equal((await get(server, '/swapped.txt')).status, 200);
        const tmp = `${link}.tmp`;
        fs.symlinkSync(path.join(path.dirname(layout.root), 'outside', 'secret.txt'), tmp);
        fs.renameSync(tmp, link);
        const deadline = Date.now() + 3000;
        let status = 200;
        while (Date.now() < deadline && status === 200) {
          const res = await get(server, '/swapped.txt');
          status = res.status;
          if (status === 200) {
            // Until then, the file the link named when it was opened.
            assert.equal(res.body, 'real\n');
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        assert.equal(status, 403);
      } finally {
        fs.rmSync(link, { force: true });
      }
    });
  });
});
