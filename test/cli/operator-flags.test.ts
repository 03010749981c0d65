// The flags operators reach for in production, end to end through the CLI:
// fields on every response, and refusals that name the flag.
import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { CLI, runCli, startCli, stopCli } from '../helpers/cli';
import { frontDoorUnavailableReason } from '../../server/src/index';
import { fixtures, scratchDir, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';

function makeSite(): string {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.mkdirSync(path.join(root, 'open'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>home</title>\n');
  fs.writeFileSync(path.join(root, 'dir', 'index.html'), 'dir\n');
  fs.writeFileSync(path.join(root, 'open', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
  fs.writeFileSync(path.join(root, '404.html'), '<p>not here</p>\n');
  return root;
}

/** The CLI's exit code and stderr for `args` (it must refuse them before listening). */
function refused(args: string[]): { status: number | null; stderr: string } {
  const r = runCli([...args, '--port', '0']);
  return { status: r.status, stderr: r.stderr };
}

async function fetchHead(url: string, init: { method?: string; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers });
  await res.body.arrayBuffer();
  return res;
}

describe('cli: --header and --cross-origin-isolated', () => {
  const root = makeSite();
  let child: ChildProcess;
  let base: string;
  before(async () => {
    const started = await startCli([
      root,
      '--port',
      '0',
      '--listing',
      '-H',
      'X-Frame-Options: DENY',
      '--header',
      'Permissions-Policy:   camera=()  ',
      '--cross-origin-isolated',
      '-H',
      'Cross-Origin-Embedder-Policy: credentialless',
      '-H',
      'Cache-Control: no-store',
    ]);
    child = started.child;
    base = `http://127.0.0.1:${started.port}`;
  });
  after(() => stopCli(child));

  const expectFields = (res: { headers: Record<string, unknown> }, what: string): void => {
    assert.equal(res.headers['x-frame-options'], 'DENY', what);
    assert.equal(res.headers['permissions-policy'], 'camera=()', what);
    assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', what);
    // A later -H wins over what --cross-origin-isolated set.
    assert.equal(res.headers['cross-origin-embedder-policy'], 'credentialless', what);
    // One Cache-Control, the operator's, where sluice would set its own.
    if (!what.startsWith('40')) assert.equal(res.headers['cache-control'], 'no-store', what);
  };

  it('should put the fields on files and 304s', async () => {
    const file = await fetchHead(`${base}/hello.txt`);
    assert.equal(file.statusCode, 200);
    expectFields(file, 'file');
    const etag = String(file.headers.etag);
    const notModified = await fetchHead(`${base}/hello.txt`, { headers: { 'if-none-match': etag } });
    assert.equal(notModified.statusCode, 304);
    expectFields(notModified, '304');
  });

  it('should put the fields on the 404 page, redirects, listings and 405s', async () => {
    const missing = await fetchHead(`${base}/nope.txt`);
    assert.equal(missing.statusCode, 404);
    expectFields(missing, '404');
    const redirect = await fetchHead(`${base}/dir`);
    assert.equal(redirect.statusCode, 301);
    expectFields(redirect, 'redirect');
    const listing = await fetchHead(`${base}/open/`);
    assert.equal(listing.statusCode, 200);
    assert.match(String(listing.headers['content-type']), /text\/html/);
    expectFields(listing, 'listing');
    const post = await fetchHead(`${base}/hello.txt`, { method: 'POST' });
    assert.equal(post.statusCode, 405);
    expectFields(post, '405');
  });

  it('should set only the isolation fields with --cross-origin-isolated alone', async () => {
    const alone = await startCli([root, '--port', '0', '--cross-origin-isolated']);
    try {
      const res = await fetchHead(`http://127.0.0.1:${alone.port}/`);
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(res.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.equal(res.headers['x-frame-options'], undefined);
    } finally {
      await stopCli(alone.child);
    }
  });

  it('should refuse a malformed --header with the flag name and exit code 2', () => {
    for (const value of [
      'X-Frame-Options',
      ': no name',
      'Bad Name: x',
      'X-Ok: line\nbreak',
      'X-Ok: bell\u0007',
      'Content-Length: 5',
      'transfer-encoding: chunked',
    ]) {
      const r = refused([root, '--header', value]);
      assert.equal(r.status, 2, JSON.stringify(value));
      assert.match(r.stderr, /^sluice: invalid --header /, JSON.stringify(value));
    }
  });

  it('should list the flags in --help', () => {
    const r = runCli(['--help']);
    for (const flag of ['-H, --header', '--cross-origin-isolated']) assert.ok(r.stdout.includes(flag), flag);
  });
});

const BIG = '/size-67108864.bin';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
}

/** A port nothing listens on (the Dockerfile's HEALTHCHECK reads $PORT, so the CLI is given one). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The Dockerfile's CMD arguments and its HEALTHCHECK command, as JSON arrays. */
function dockerfile(): { cmd: string[]; healthcheck: string[] } {
  const text = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(text)?.[1];
  const healthcheck = /^HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])$/m.exec(text)?.[1];
  assert.ok(cmd !== undefined && healthcheck !== undefined, 'Dockerfile has a CMD and a HEALTHCHECK');
  return { cmd: JSON.parse(cmd) as string[], healthcheck: JSON.parse(healthcheck) as string[] };
}

describe('cli: --health', () => {
  it('should answer 200 ok with no-store, and leave it out of the access log', async () => {
    const { child, port } = await startCli([fixtures().root, '--port', '0', '--health', '/healthz', '--log']);
    try {
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      const health = await request(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.statusCode, 200);
      assert.equal(await health.body.text(), 'ok');
      assert.equal(health.headers['cache-control'], 'no-store');
      await fetchHead(`http://127.0.0.1:${port}/hello.txt`);
      const until = Date.now() + 5000;
      while (!out.includes('hello.txt') && Date.now() < until) await sleep(20);
      await sleep(100);
      assert.match(out, /"GET \/hello\.txt HTTP\/1\.1" 200 13/);
      assert.doesNotMatch(out, /healthz/);
    } finally {
      await stopCli(child);
    }
  });

  it('should answer 503 draining on a connection still open during the drain, then exit 0', async function () {
    this.timeout(30_000);
    const { child, port } = await startCli([fixtures().root, '--port', '0', '--health', '/healthz']);
    const exited = exitOf(child);
    const socket = await connect(port);
    try {
      socket.on('error', () => {});
      socket.pause();
      socket.write(requestText('GET', BIG));
      await sleep(300);
      child.kill('SIGTERM');
      await sleep(300);
      socket.write(requestText('GET', '/healthz'));
      const reading = readResponses(socket, 2, [], 20_000);
      socket.resume();
      const [download, health] = await reading;
      assert.equal(download?.status, 200);
      assert.equal(sha256(download?.body ?? Buffer.alloc(0)), sha256(fixtures().bytes(BIG)));
      assert.equal(health?.status, 503);
      assert.equal(health?.body.toString(), 'draining');
      assert.equal(await exited, 0);
    } finally {
      socket.destroy();
      child.kill('SIGKILL');
    }
  });

  it("should pass the Dockerfile's HEALTHCHECK under its CMD, and fail it once draining", async function () {
    this.timeout(30_000);
    const { cmd, healthcheck } = dockerfile();
    assert.ok(cmd.includes('--health'), 'CMD turns the health path on');
    assert.ok(healthcheck.join(' ').includes(`/${cmd[cmd.indexOf('--health') + 1].slice(1)}'`), 'HEALTHCHECK asks for the health path');
    const port = await freePort();
    const env = { PORT: String(port), HOST: '127.0.0.1' };
    const args = cmd.map((a) => (a === '/srv' ? fixtures().root : a));
    const { child } = await startCli(args, process.execPath, [CLI], env);
    const check = (): number | null =>
      spawnSync(healthcheck[0] === 'node' ? process.execPath : healthcheck[0], healthcheck.slice(1), { env: { ...process.env, ...env }, timeout: 10_000 })
        .status;
    const socket = await connect(port);
    try {
      assert.equal(check(), 0);
      socket.on('error', () => {});
      socket.pause();
      socket.write(requestText('GET', BIG));
      await sleep(300);
      child.kill('SIGTERM');
      await sleep(300);
      assert.equal(check(), 1);
    } finally {
      socket.destroy();
      child.kill('SIGKILL');
    }
  });

  it('should refuse a --health that is not a path, and list it in --help', () => {
    for (const value of ['healthz', '/a b', '/h?x=1']) {
      const r = refused([fixtures().root, '--health', value]);
      assert.equal(r.status, 2, value);
      assert.match(r.stderr, /^sluice: invalid --health /, value);
    }
    const help = runCli(['--help']);
    assert.ok(help.stdout.includes('--health PATH'));
  });
});

describe('cli: --mime', () => {
  it('should send the given types, with a charset for text types', async () => {
    const root = makeSite();
    fs.writeFileSync(path.join(root, 'app.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
    fs.writeFileSync(path.join(root, 'README.md'), '# readme\n');
    fs.writeFileSync(path.join(root, 'scene.sluice'), 'scene');
    const { child, port } = await startCli([
      root,
      '--port',
      '0',
      '--mime',
      'wasm=application/wasm',
      '--mime',
      '.md=text/x-markdown',
      '--mime',
      'SLUICE=model/x-sluice',
    ]);
    try {
      const type = async (p: string): Promise<unknown> => (await fetchHead(`http://127.0.0.1:${port}${p}`)).headers['content-type'];
      assert.equal(await type('/app.wasm'), 'application/wasm');
      assert.equal(await type('/README.md'), 'text/x-markdown; charset=utf-8');
      assert.equal(await type('/scene.sluice'), 'model/x-sluice');
      assert.equal(await type('/hello.txt'), 'text/plain; charset=utf-8');
    } finally {
      await stopCli(child);
    }
  });

  it('should refuse a malformed --mime with the flag name, and list it in --help', () => {
    for (const value of ['wasm', '=text/plain', 'a.b=text/plain', 'wasm=application', 'wasm=text/plain; charset', 'md=text plain']) {
      const r = refused([fixtures().root, '--mime', value]);
      assert.equal(r.status, 2, value);
      assert.match(r.stderr, /^sluice: invalid --mime /, value);
    }
    const help = runCli(['--help']);
    assert.ok(help.stdout.includes('--mime EXT=TYPE'));
  });
});

describe('cli: --cors-origins and --cors-headers', () => {
  it('should reflect a listed Origin and answer its preflight with the listed headers', async () => {
    const { child, port } = await startCli([
      fixtures().root,
      '--port',
      '0',
      '--cors-origins',
      'https://app.example, http://localhost:3000',
      '--cors-headers',
      'X-Token,Content-Type',
    ]);
    const base = `http://127.0.0.1:${port}`;
    try {
      const listed = await fetchHead(`${base}/hello.txt`, { headers: { origin: 'http://localhost:3000' } });
      assert.equal(listed.headers['access-control-allow-origin'], 'http://localhost:3000');
      assert.equal(listed.headers.vary, 'Origin');
      const other = await fetchHead(`${base}/hello.txt`, { headers: { origin: 'https://evil.example' } });
      assert.equal(other.headers['access-control-allow-origin'], undefined);
      assert.equal(other.headers.vary, 'Origin');
      const ask = { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-token' };
      const pre = await fetchHead(`${base}/hello.txt`, { method: 'OPTIONS', headers: ask });
      assert.equal(pre.statusCode, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
      assert.equal(pre.headers['access-control-allow-headers'], 'X-Token, Content-Type');
    } finally {
      await stopCli(child);
    }
  });

  it('should keep --cors at *, with --cors-headers naming what preflights allow', async () => {
    const { child, port } = await startCli([fixtures().root, '--port', '0', '--cors', '--cors-headers', 'X-Token']);
    try {
      const ask = { origin: 'https://any.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-other' };
      const pre = await fetchHead(`http://127.0.0.1:${port}/hello.txt`, { method: 'OPTIONS', headers: ask });
      assert.equal(pre.headers['access-control-allow-origin'], '*');
      assert.equal(pre.headers['access-control-allow-headers'], 'X-Token');
      const get = await fetchHead(`http://127.0.0.1:${port}/hello.txt`, { headers: { origin: 'https://any.example' } });
      assert.equal(get.headers['access-control-allow-origin'], '*');
    } finally {
      await stopCli(child);
    }
  });

  it('should refuse bad lists with the flag name, and list the flags in --help', () => {
    for (const [flag, value] of [
      ['--cors-origins', 'app.example'],
      ['--cors-origins', 'https://a.example/path'],
      ['--cors-origins', ','],
      ['--cors-headers', 'bad name'],
    ]) {
      const r = refused([fixtures().root, '--cors', flag, value]);
      assert.equal(r.status, 2, `${flag} ${value}`);
      assert.match(r.stderr, new RegExp(`^sluice: invalid ${flag} `), `${flag} ${value}`);
    }
    const alone = refused([fixtures().root, '--cors-headers', 'X-Token']);
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /^sluice: --cors-headers needs --cors or --cors-origins/);
    const help = runCli(['--help']);
    for (const flag of ['--cors-origins LIST', '--cors-headers LIST']) assert.ok(help.stdout.includes(flag), flag);
  });
});

describe('cli: --log-format and --trust-proxy', () => {
  /** Starts the CLI with `args`, sends each request, and gives back what it logged. */
  async function logged(args: string[], requests: Record<string, string>[]): Promise<string[]> {
    const { child, port } = await startCli([fixtures().root, '--port', '0', '--log', ...args]);
    try {
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      for (const headers of requests) await fetchHead(`http://127.0.0.1:${port}/hello.txt`, { headers });
      const until = Date.now() + 5000;
      while (out.split('\n').length <= requests.length && Date.now() < until) await sleep(20);
      return out.split('\n').filter((l) => l.includes('hello.txt'));
    } finally {
      await stopCli(child);
    }
  }

  it('should write one JSON object per line', async () => {
    const [line] = await logged(['--log-format', 'json'], [{ 'user-agent': 'agent "x"\t{"forged":1}', referer: 'http://r.example/' }]);
    const entry = JSON.parse(line ?? '') as Record<string, unknown>;
    assert.equal(entry.remote, '127.0.0.1');
    assert.equal(entry.peer, '127.0.0.1');
    assert.equal(entry.method, 'GET');
    assert.equal(entry.url, '/hello.txt');
    assert.equal(entry.protocol, 'HTTP/1.1');
    assert.equal(entry.status, 200);
    assert.equal(entry.bytes, 13);
    assert.equal(typeof entry.ms, 'number');
    assert.equal(entry.referer, 'http://r.example/');
    assert.equal(entry.agent, 'agent "x"\t{"forged":1}');
    assert.match(String(entry.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it("should log the forwarded client from a trusted proxy, and an untrusted peer's own address", async () => {
    const forwarded: Record<string, string>[] = [{ 'x-forwarded-for': '198.51.100.1, 203.0.113.7' }, { forwarded: 'for="[2001:db8::1]:4711";proto=https' }];
    const trusted = await logged(['--trust-proxy', 'loopback', '--log-format', 'json'], forwarded);
    assert.deepEqual(
      trusted.map((l) => (JSON.parse(l) as { remote: string; peer: string }).remote),
      ['203.0.113.7', '2001:db8::1'],
    );
    const combined = await logged(['--trust-proxy', '127.0.0.1'], forwarded.slice(0, 1));
    assert.match(combined[0] ?? '', /^203\.0\.113\.7 - - \[/);
    const untrusted = await logged(['--trust-proxy', '10.0.0.0/8'], forwarded.slice(0, 1));
    assert.match(untrusted[0] ?? '', /^127\.0\.0\.1 - - \[/);
    const none = await logged([], forwarded.slice(0, 1));
    assert.match(none[0] ?? '', /^127\.0\.0\.1 - - \[/);
  });

  it('should refuse bad values with the flag name, and list the flags in --help', () => {
    for (const [args, message] of [
      [['--log', '--trust-proxy', 'localhost'], /^sluice: invalid --trust-proxy 'localhost'/],
      [['--log', '--trust-proxy', '10.0.0.0/33'], /^sluice: invalid --trust-proxy /],
      [['--log', '--log-format', 'xml'], /^sluice: invalid --log-format 'xml' \(expected combined or json\)/],
      [['--trust-proxy', 'loopback'], /^sluice: --trust-proxy needs --log/],
      [['--log-format', 'json'], /^sluice: --log-format needs --log/],
    ] as const) {
      const r = refused([fixtures().root, ...args]);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
    const help = runCli(['--help']);
    for (const flag of ['--log-format F', '--trust-proxy LIST']) assert.ok(help.stdout.includes(flag), flag);
  });
});

describe('cli: the operator flags with --front-door', () => {
  it('should log what the front door sends in the chosen format, with the forwarded client, and no health checks', async () => {
    const { child, port, firstLine } = await startCli([
      fixtures().root,
      '--port',
      '0',
      '--front-door',
      '--log',
      '--log-format',
      'json',
      '--trust-proxy',
      'loopback',
      '--health',
      '/healthz',
      '-H',
      'X-Frame-Options: DENY',
    ]);
    try {
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      const headers = { 'x-forwarded-for': '203.0.113.7' };
      for (let i = 0; i < 3; i++) {
        const file = await fetchHead(`http://127.0.0.1:${port}/hello.txt`, { headers });
        assert.equal(file.headers['x-frame-options'], 'DENY');
        const health = await request(`http://127.0.0.1:${port}/healthz`);
        assert.equal(health.statusCode, 200);
        assert.equal(await health.body.text(), 'ok');
      }
      const until = Date.now() + 5000;
      while (out.split('\n').filter((l) => l.includes('hello.txt')).length < 3 && Date.now() < until) await sleep(20);
      await sleep(200);
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      assert.equal(lines.length, 3, out);
      for (const line of lines) {
        const entry = JSON.parse(line) as { remote: string; peer: string; url: string; status: number; ms: unknown };
        assert.deepEqual([entry.remote, entry.peer, entry.url, entry.status], ['203.0.113.7', '127.0.0.1', '/hello.txt', 200]);
        assert.equal(typeof entry.ms, 'number');
      }
      if (frontDoorUnavailableReason() === '') assert.match(firstLine, / front-door=on /);
    } finally {
      await stopCli(child);
    }
  });
});
