// require('sluice/serve-handler') as code written for serve-handler calls
// it: the promise, the config object, errors as JSON, and the fs
// overrides accepted (and not used).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { scratchDir } from '../helpers/fixtures';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const handler = require(path.resolve(__dirname, '..', '..', '..', 'dist', 'serve-handler.js')) as (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  config?: object,
  handlers?: object,
) => Promise<void>;

describe('sluice/serve-handler', () => {
  let root = '';
  let server: http.Server;
  let url = '';
  const settled: string[] = [];

  before(async () => {
    root = path.join(scratchDir(), 'public');
    fs.mkdirSync(path.join(root, 'blog'), { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), 'home\n');
    fs.writeFileSync(path.join(root, 'blog', 'first.html'), 'first\n');
    fs.writeFileSync(path.join(root, '.env'), 'dot\n');
    const config = { public: root, headers: [{ source: '**/*.html', headers: [{ key: 'X-Html', value: 'yes' }] }] };
    server = http.createServer((req, res) => {
      handler(req, res, config, { lstat: fs.lstat }).then(
        () => settled.push(req.url ?? ''),
        (err: Error) => settled.push(`error ${err.message}`),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('should be exported as the package subpath', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    assert.ok(pkg.exports['./serve-handler']);
    assert.equal(typeof handler, 'function');
    assert.equal(typeof (handler as unknown as { errorPage: unknown }).errorPage, 'function');
  });

  it('should serve with serve-handler’s defaults and resolve once the response is done', async () => {
    const home = await request(`${url}/`);
    assert.equal(await home.body.text(), 'home\n');
    assert.equal(home.headers['x-html'], 'yes');
    assert.equal(home.headers['cache-control'], undefined);
    const clean = await request(`${url}/blog/first`);
    assert.equal(await clean.body.text(), 'first\n');
    const dot = await request(`${url}/.env`);
    assert.equal(await dot.body.text(), 'dot\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(settled.includes('/blog/first'), settled.join(','));
  });

  it('should list directories and answer errors as JSON when asked', async () => {
    const listing = await request(`${url}/blog`, { headers: { accept: 'application/json' } });
    const files = (JSON.parse(await listing.body.text()) as { files: { base: string }[] }).files.map((f) => f.base);
    assert.deepEqual(files, ['..', 'first.html']);
    const miss = await request(`${url}/nope`, { headers: { accept: 'application/json' } });
    assert.equal(miss.statusCode, 404);
    assert.deepEqual(JSON.parse(await miss.body.text()), { error: { code: 'not_found', message: 'The requested path could not be found' } });
    // Sent as written (a URL parser would resolve the dots first).
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http.get(`${url}/`, { path: '/../../etc/passwd' }, (res) => resolve(res.resume().statusCode)).on('error', reject);
    });
    assert.equal(status, 400);
  });
});
