// --proxy and --proxy-timeout through the CLI: a miss reaches the upstream,
// and bad values are refused with the flag's name (exit 2).
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { runCli, startCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';

function refused(args: string[]): { status: number | null; stderr: string } {
  const r = runCli([...args, '--port', '0']);
  return { status: r.status, stderr: r.stderr };
}

describe('cli: --proxy', function () {
  this.timeout(20_000);
  let upstream: http.Server;
  let child: ChildProcess;
  let base: string;
  let logged = (): string => '';
  before(async () => {
    upstream = http.createServer((req, res) => {
      // Chunked (no Content-Length), so the log's count is what went through.
      if (req.url === '/logged-miss') {
        res.write('part one; ');
        return void res.end('part two');
      }
      res.end(`upstream ${req.method} ${req.url} ${req.headers['x-forwarded-proto']}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const root = path.join(scratchDir(), 'cli-proxy');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'here.txt'), 'here\n');
    const started = await startCli([
      root,
      '--port',
      '0',
      '--proxy',
      `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      '--proxy-timeout',
      '2000',
      '--log',
    ]);
    let out = '';
    started.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    logged = () => out;
    child = started.child;
    base = `http://127.0.0.1:${started.port}`;
  });
  after(async () => {
    child?.kill('SIGTERM');
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it('should serve files and forward misses and POSTs', async () => {
    assert.equal(await (await request(`${base}/here.txt`)).body.text(), 'here\n');
    assert.equal(await (await request(`${base}/api/v1?x=2`)).body.text(), 'upstream GET /api/v1?x=2 http');
    assert.equal(await (await request(`${base}/here.txt`, { method: 'POST', body: 'x' })).body.text(), 'upstream POST /here.txt http');
  });

  it('should log a proxied response with the body bytes that went through', async () => {
    const body = await (await request(`${base}/logged-miss`)).body.text();
    const deadline = Date.now() + 3000;
    while (!logged().includes('/logged-miss') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(logged(), new RegExp(`"GET /logged-miss HTTP/1.1" 200 ${Buffer.byteLength(body)} `));
  });

  it('should refuse a bad --proxy, --proxy-timeout, and --proxy with --single, naming the flag (exit 2)', () => {
    for (const [args, message] of [
      [['--proxy', 'localhost:3000'], /invalid --proxy 'localhost:3000' is not an http: or https: URL/],
      [['--proxy', 'http://a?x=1'], /invalid --proxy .* has a query/],
      [['--proxy', 'http://a', '--proxy-timeout', 'soon'], /invalid --proxy-timeout 'soon'/],
      [['--proxy', 'http://a', '--proxy-timeout', '0'], /invalid --proxy-timeout '0'/],
      [['--proxy-timeout', '10'], /--proxy-timeout needs --proxy/],
      [['--proxy', 'http://a', '--single'], /--single and --proxy exclude each other/],
    ] as const) {
      const r = refused([...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });

  it('should list --proxy in --help', () => {
    const r = runCli(['--help']);
    assert.match(r.stdout, /--proxy URL/);
    assert.match(r.stdout, /--proxy-timeout MS/);
  });
});
