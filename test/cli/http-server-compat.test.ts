// The http-server mode (`http-server-sluice`, `sluice --compat http-server`)
// end to end: each of http-server's flags, defaults and environment
// variables checked on a running server, and bad values refused with the
// flag's name (exit 2).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { CLI, HTTP_SERVER_BIN as BIN, launchCli, runCli, stopCli, type StartedCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { testCert } from '../helpers/tls';

function makeSite(): string {
  const root = path.join(scratchDir(), 'hs-site');
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.mkdirSync(path.join(root, 'withindex'));
  fs.writeFileSync(path.join(root, 'withindex', 'index.html'), 'the index\n');
  fs.writeFileSync(path.join(root, 'dir', 'x.txt'), 'x\n');
  fs.writeFileSync(path.join(root, '.hidden'), 'dot\n');
  fs.writeFileSync(path.join(root, 'page.html'), 'page html\n');
  fs.writeFileSync(path.join(root, 'page.htm'), 'page htm\n');
  fs.writeFileSync(path.join(root, 'app.js'), 'console.log(1)\n'.repeat(200));
  fs.writeFileSync(path.join(root, 'app.js.gz'), 'GZ');
  fs.writeFileSync(path.join(root, 'app.js.br'), 'BR');
  fs.writeFileSync(path.join(root, 'doc.opml'), '<opml/>\n');
  fs.writeFileSync(path.join(root, 'custom.types'), '# comment\ntext/x-opml opml\n');
  return root;
}

/** Starts the http-server mode (by its own bin unless `viaSluice`) and waits for its URL. */
function start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; viaSluice?: boolean } = {}): Promise<StartedCli> {
  const commandArgs = opts.viaSluice ? [CLI, '--compat', 'http-server'] : [BIN];
  return launchCli(args, { commandArgs, cwd: opts.cwd, env: opts.env, ready: /(https?):\/\/[^\s]*?:(\d+)/ });
}

async function get(url: string, headers: Record<string, string> = {}, method = 'GET', dispatcher?: Agent) {
  const res = await request(url, { method: method as 'GET', headers, dispatcher });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

const AUTH = { authorization: `Basic ${Buffer.from('ann:s3cret').toString('base64')}` };

describe('http-server mode: defaults', function () {
  this.timeout(30_000);
  const root = makeSite();
  let s: StartedCli;
  before(async () => {
    s = await start([root, '-p', '0', '-a', '127.0.0.1']);
  });
  after(() => stopCli(s?.child));

  it('should send Cache-Control max-age=3600 by default (-c)', async () => {
    assert.equal((await get(`${s.base}/page.html`)).headers['cache-control'], 'public, max-age=3600');
  });
  it('should list a directory without index.html by default (-d)', async () => {
    const r = await get(`${s.base}/dir/`);
    assert.equal(r.status, 200);
    assert.match(r.body, /x\.txt/);
  });
  it('should serve a directory its index.html by default (-i)', async () => {
    assert.equal((await get(`${s.base}/withindex/`)).body, 'the index\n');
  });
  it('should serve dotfiles by default (--no-dotfiles turns that off)', async () => {
    assert.equal((await get(`${s.base}/.hidden`)).body, 'dot\n');
  });
  it('should not serve .gz or .br siblings without -g/-b', async () => {
    const r = await get(`${s.base}/app.js`, { 'accept-encoding': 'br, gzip' });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.match(r.body, /^console/);
  });
  it('should find /page as page.html (-e defaults to html)', async () => {
    assert.equal((await get(`${s.base}/page`)).body, 'page html\n');
  });
  it('should write an access log line per response (-s turns it off)', async () => {
    await get(`${s.base}/page.html?logged`);
    const deadline = Date.now() + 3000;
    while (!s.output().includes('/page.html?logged') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(s.output(), /"GET \/page\.html\?logged HTTP\/1\.1" 200/);
  });
  it('should not answer /robots.txt without -r', async () => {
    assert.equal((await get(`${s.base}/robots.txt`)).status, 404);
  });
});

describe('http-server mode: flags', function () {
  this.timeout(30_000);
  const root = makeSite();
  let s: StartedCli;
  before(async () => {
    s = await start([
      root,
      '-p0',
      '-a',
      '127.0.0.1',
      '-c-1',
      '-d',
      'false',
      '-i',
      'false',
      '-g',
      '-b',
      '-e',
      'htm',
      '--no-dotfiles',
      '-s',
      '--cors=X-Foo',
      '-r',
      '--mimetypes',
      path.join(root, 'custom.types'),
      '-H',
      'X-Extra: 1',
      '--coop',
      '--private-network-access',
      '--username',
      'ann',
      '--password',
      's3cret',
    ]);
  });
  after(() => stopCli(s?.child));

  it('-c-1: no caching', async () => {
    assert.equal((await get(`${s.base}/page.html`, AUTH)).headers['cache-control'], 'no-cache, no-store, must-revalidate');
  });
  it('-d false: no listing', async () => {
    assert.equal((await get(`${s.base}/dir/`, AUTH)).status, 404);
  });
  it('-i false: no index.html for a directory', async () => {
    assert.equal((await get(`${s.base}/withindex/`, AUTH)).status, 404);
  });
  it('-b before -g: the .br sibling for br, the .gz one for gzip', async () => {
    const br = await get(`${s.base}/app.js`, { ...AUTH, 'accept-encoding': 'gzip, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    const gz = await get(`${s.base}/app.js`, { ...AUTH, 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.body, 'GZ');
  });
  it('-e htm: /page is page.htm', async () => {
    assert.equal((await get(`${s.base}/page`, AUTH)).body, 'page htm\n');
  });
  it('--no-dotfiles: a dotfile is not found', async () => {
    assert.equal((await get(`${s.base}/.hidden`, AUTH)).status, 404);
  });
  it('-s: no access log', async () => {
    await get(`${s.base}/page.html?silent`, AUTH);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!s.output().includes('silent'), s.output());
  });
  it("--cors=X-Foo: * and preflights allowing http-server's list and X-Foo", async () => {
    assert.equal((await get(`${s.base}/page.html`, AUTH)).headers['access-control-allow-origin'], '*');
    const pre = await get(`${s.base}/page.html`, { ...AUTH, origin: 'http://a.example', 'access-control-request-method': 'GET' }, 'OPTIONS');
    assert.equal(pre.headers['access-control-allow-headers'], 'Origin, X-Requested-With, Content-Type, Accept, Range, X-Foo');
  });
  it('-r: /robots.txt disallows everything', async () => {
    const r = await get(`${s.base}/robots.txt`, AUTH);
    assert.equal(r.body, 'User-agent: *\nDisallow: /');
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  });
  it('--mimetypes: types from a .types file', async () => {
    assert.match(String((await get(`${s.base}/doc.opml`, AUTH)).headers['content-type']), /^text\/x-opml/);
  });
  it('-H, --coop, --private-network-access: fields on every response', async () => {
    const r = await get(`${s.base}/page.html`, AUTH);
    assert.equal(r.headers['x-extra'], '1');
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.equal(r.headers['access-control-allow-private-network'], 'true');
  });
  it('--username/--password: 401 without them (twice on fresh connections: never a kept reply), 200 with', async () => {
    for (let i = 0; i < 2; i++) {
      const agent = new Agent();
      const r = await get(`${s.base}/page.html`, {}, 'GET', agent);
      await agent.close();
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], 'Basic realm=""');
    }
    assert.equal((await get(`${s.base}/page.html`, { authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}` })).status, 401);
    assert.equal((await get(`${s.base}/page.html`, AUTH)).status, 200);
  });
});

describe('http-server mode: -P, -t, -S/-C/-K, environment, ./public', function () {
  this.timeout(30_000);
  const root = makeSite();

  it('-P: a miss goes to the upstream (through sluice --compat http-server)', async () => {
    const upstream = http.createServer((req, res) => res.end(`up ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const s = await start([root, '-p', '0', '-a', '127.0.0.1', '-P', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`], { viaSluice: true });
    try {
      assert.equal((await get(`${s.base}/api/x`)).body, 'up /api/x');
      assert.equal((await get(`${s.base}/page.html`)).body, 'page html\n');
      // No --websocket: an upgrade is not forwarded as one (http-server forwards them only with it).
      const socket = net.connect(Number(new URL(s.base).port), '127.0.0.1');
      socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      const first = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString('latin1'))));
      socket.destroy();
      assert.doesNotMatch(first, /^HTTP\/1\.1 101/);
      assert.match(first, /up \/ws$/);
    } finally {
      await stopCli(s?.child);
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });

  it("--no-front-door (sluice's own flag): every request through Node's HTTP layer", async () => {
    const s = await start([root, '-p', '0', '-a', '127.0.0.1', '--no-front-door', '-s']);
    try {
      assert.match(s.output(), /front-door=off/);
      assert.equal((await get(`${s.base}/page.html`)).body, 'page html\n');
    } finally {
      await stopCli(s?.child);
    }
    if (process.env.SLUICE_TEST_FRONT_DOOR === '0') return;
    const on = await start([root, '-p', '0', '-a', '127.0.0.1', '-s']);
    const printed = on.output();
    await stopCli(on.child);
    assert.match(printed, /front-door=on/);
  });

  it('-t 1: an idle connection is closed after a second', async () => {
    const s = await start([root, '-p', '0', '-a', '127.0.0.1', '-t', '1']);
    try {
      const port = Number(new URL(s.base).port);
      const socket = net.connect(port, '127.0.0.1');
      socket.write('GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n');
      const t0 = Date.now();
      await new Promise<void>((resolve) => socket.on('close', () => resolve()).on('data', () => {}));
      const idle = Date.now() - t0;
      assert.ok(idle >= 900 && idle < 4000, `closed after ${idle} ms`);
    } finally {
      await stopCli(s?.child);
    }
  });

  it('-S -C -K: HTTPS with the given certificate', async function () {
    const { cert, reason } = testCert();
    if (cert === null) return (this.skip(), void reason);
    const dir = scratchDir();
    fs.writeFileSync(path.join(dir, 'c.pem'), cert.cert);
    fs.writeFileSync(path.join(dir, 'k.pem'), cert.key);
    const s = await start([root, '-p', '0', '-a', '127.0.0.1', '-S', '-C', path.join(dir, 'c.pem'), '-K', path.join(dir, 'k.pem')]);
    const agent = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      assert.match(s.base, /^https:/);
      assert.equal((await get(`${s.base}/page.html`, {}, 'GET', agent)).body, 'page html\n');
    } finally {
      await agent.close();
      await stopCli(s?.child);
    }
  });

  it('$PORT (read as parseInt reads it: 0.5 is 0), $NODE_HTTP_SERVER_USERNAME/PASSWORD, and ./public as the default root', async () => {
    const cwd = scratchDir();
    fs.mkdirSync(path.join(cwd, 'public'));
    fs.writeFileSync(path.join(cwd, 'public', 'in-public.txt'), 'public dir\n');
    const s = await start(['-a', '127.0.0.1'], { cwd, env: { PORT: '0.5', NODE_HTTP_SERVER_USERNAME: 'ann', NODE_HTTP_SERVER_PASSWORD: 's3cret' } });
    try {
      assert.equal((await get(`${s.base}/in-public.txt`)).status, 401);
      assert.equal((await get(`${s.base}/in-public.txt`, AUTH)).body, 'public dir\n');
    } finally {
      await stopCli(s?.child);
    }
  });
});

describe('http-server mode: refusals and --help', function () {
  this.timeout(60_000);
  function run(args: string[]): { status: number | null; stderr: string; stdout: string } {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 10_000, cwd: scratchDir() });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
  }

  it('should refuse bad values with the flag name (exit 2)', () => {
    for (const [args, message] of [
      [['-p', 'http'], /invalid -p 'http'/],
      [['-c', 'soon'], /invalid -c 'soon'/],
      [['-t', '-5'], /invalid -t '-5'/],
      [['-e', 'a/b'], /invalid -e 'a\/b'/],
      [['-P', 'nope'], /invalid -P 'nope' is not a URL/],
      [['-S', '-C', '/nonexistent/c.pem'], /cannot read -C \/nonexistent\/c\.pem: ENOENT/],
      [['--username', 'a'], /--username and --password go together/],
      [['--mimetypes', '/nonexistent.types'], /cannot read --mimetypes/],
      [['--proxy-all'], /--proxy-all is not supported: /],
      [['--base-dir', '/x'], /--base-dir is not supported: /],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it("should print http-server's flags with --help (both entries)", () => {
    const own = run(['--help']);
    assert.equal(own.status, 0);
    for (const flag of ['-p --port', '-c ', '-P --proxy', '--username', '--mimetypes', '-S --tls']) assert.ok(own.stdout.includes(flag), flag);
    const viaSluice = runCli(['--compat', 'http-server', '-h']);
    assert.equal(viaSluice.stdout, own.stdout);
    assert.match(runCli(['--help']).stdout, /--compat http-server/);
  });
});
