// -H 'Vary: X' with --cors-origins: the operator's Vary joins the Vary:
// Origin a CORS list needs instead of replacing it (a cache would otherwise
// serve one origin's Access-Control-Allow-Origin to another).
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { startCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { createServer } from '../../server/src/index';

function makeSite(): string {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello\n');
  fs.writeFileSync(path.join(root, 'app.js'), 'console.log("x");\n'.repeat(200));
  return root;
}

/** The Vary names of a response, lower-cased, each once. */
async function varyOf(url: string, method: 'GET' | 'OPTIONS' = 'GET', headers: Record<string, string> = {}): Promise<string[]> {
  const res = await request(url, { method, headers: { origin: 'https://a.example', ...headers } });
  await res.body.arrayBuffer();
  const vary = res.headers.vary;
  const value = Array.isArray(vary) ? vary.join(', ') : (vary ?? '');
  return value
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);
}

function checkAll(base: () => string): void {
  it('should keep Vary: Origin beside the -H Vary on files, 404s and preflights', async () => {
    for (const [p, method, headers] of [
      ['/hello.txt', 'GET', {}],
      ['/app.js', 'GET', { 'accept-encoding': 'br' }],
      ['/missing', 'GET', {}],
      ['/hello.txt', 'OPTIONS', { 'access-control-request-method': 'GET' }],
    ] as const) {
      const names = await varyOf(base() + p, method, headers);
      assert.ok(names.includes('origin'), `${method} ${p}: ${names.join(', ')}`);
      assert.ok(names.includes('x-custom'), `${method} ${p}: ${names.join(', ')}`);
      assert.equal(new Set(names).size, names.length, `${method} ${p}: each name once`);
    }
  });
}

describe('cli: -H Vary with --cors-origins', function () {
  this.timeout(20_000);
  let child: ChildProcess;
  let base = '';
  before(async () => {
    const started = await startCli([makeSite(), '--port', '0', '--cors-origins', 'https://a.example', '-H', 'Vary: X-Custom']);
    child = started.child;
    base = `http://127.0.0.1:${started.port}`;
  });
  after(() => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')))));
  checkAll(() => base);
});

describe('library: headers: { Vary } with cors: { origins }', () => {
  let server: ReturnType<typeof createServer>;
  let base = '';
  before(async () => {
    server = createServer(makeSite(), { cors: { origins: ['https://a.example'] }, headers: { Vary: 'X-Custom' }, notFound: false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  checkAll(() => base);
});
