// sluice behind a real cache, across replicas: nginx (proxy_cache) and
// Varnish, each with the configuration deploy/ ships, in front of two
// sluice CLI replicas on 127.0.0.1. Requests spread, expired entries are
// revalidated with 304s at the origin, ranges through the cache are exact,
// Vary: Accept-Encoding keeps br and identity apart, a killed replica loses
// no request the proxy can retry, and a rolling restart fails none.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Agent, request } from 'undici';
import { CLI } from '../helpers/cli';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SMALL_FILES = 40;

/** An executable on PATH or in the sbin directories Debian installs daemons to. */
function findBin(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

// ---- the site --------------------------------------------------------------

interface Site {
  root: string;
  files: Map<string, Buffer>;
}

function makeSite(dir: string): Site {
  const root = path.join(dir, 'site');
  const files = new Map<string, Buffer>();
  const put = (rel: string, bytes: Buffer): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), bytes);
    files.set(`/${rel}`, bytes);
  };
  put('index.html', Buffer.from('<!doctype html><title>sluice</title>\n'));
  for (let i = 0; i < SMALL_FILES; i++) put(`f/${i}.txt`, Buffer.from(`file ${i} ${'x'.repeat(i)}\n`));
  put('rev-nginx.txt', Buffer.from('revalidate me (nginx)\n'));
  put('rev-varnish.txt', Buffer.from('revalidate me (varnish)\n'));
  put('big.bin', crypto.randomBytes(1024 * 1024));
  const js = Buffer.from(Array.from({ length: 600 }, (_, i) => `export function f${i}(a, b) { return a * ${i} + b; }\n`).join(''));
  put('app.js', js);
  put('app.js.br', zlib.brotliCompressSync(js));
  return { root, files };
}

// ---- replicas --------------------------------------------------------------

interface Replica {
  port: number;
  child: ChildProcess;
  /** Access-log lines (combined format) the replica printed. */
  log: string[];
}

/** A replica as deploy/ describes: read-only content, a max-age (1 s here), its access log on. */
async function startReplica(port: number, root: string): Promise<Replica> {
  const args = [CLI, root, '--host', '127.0.0.1', '--port', String(port), '--max-age', '1s', '--no-compress', '--log'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const replica: Replica = { port, child, log: [] };
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('sluice listening on')) resolve();
        else replica.log.push(line);
      }
    });
    child.once('exit', (code) => reject(new Error(`replica on ${port} exited with ${code}: ${stderr}`)));
  });
  return replica;
}

/** Log lines of `replica` for `urlPath` (query strings included) with `status`. */
function logged(replica: Replica, urlPath: string, status?: number): string[] {
  return replica.log.filter((l) => l.includes(`"GET ${urlPath} HTTP/1.1"`) && (status === undefined || l.includes(`" ${status} `)));
}

// ---- proxies ---------------------------------------------------------------

interface Proxy {
  url: string;
  stop(): Promise<void>;
}

async function startNginx(bin: string, dir: string, port: number, upstreams: number[]): Promise<Proxy> {
  const conf = fs
    .readFileSync(path.join(REPO, 'deploy', 'nginx', 'sluice-cache.conf'), 'utf8')
    .replace('127.0.0.1:8081', `127.0.0.1:${upstreams[0]}`)
    .replace('127.0.0.1:8082', `127.0.0.1:${upstreams[1]}`)
    .replace('listen 127.0.0.1:8080', `listen 127.0.0.1:${port}`)
    .replace('/var/cache/nginx/sluice', path.join(dir, 'cache'));
  fs.writeFileSync(path.join(dir, 'sluice-cache.conf'), conf);
  const user = os.userInfo();
  const main = [
    user.uid === 0 ? `user ${user.username};` : '',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    'events { worker_connections 512; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, `${t}-temp`)};`),
    `  include ${path.join(dir, 'sluice-cache.conf')};`,
    '}',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), main);
  const child = spawn(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return proxyProcess(child, port);
}

async function startVarnish(bin: string, dir: string, port: number, upstreams: number[]): Promise<Proxy> {
  const vcl = fs
    .readFileSync(path.join(REPO, 'deploy', 'varnish', 'sluice.vcl'), 'utf8')
    .replace('.port = "8081"', `.port = "${upstreams[0]}"`)
    .replace('.port = "8082"', `.port = "${upstreams[1]}"`);
  fs.writeFileSync(path.join(dir, 'sluice.vcl'), vcl);
  const args = ['-F', '-j', 'none', '-n', path.join(dir, 'varnish'), '-a', `127.0.0.1:${port}`, '-f', path.join(dir, 'sluice.vcl')];
  args.push('-s', 'malloc,64m', '-p', 'http_gzip_support=off', '-T', 'none');
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return proxyProcess(child, port);
}

async function proxyProcess(child: ChildProcess, port: number): Promise<Proxy> {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`the proxy on ${port} to answer (${stderr})`, async () => {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await request(`${url}/index.html`, { reset: true });
      await res.body.arrayBuffer();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

// ---- load ------------------------------------------------------------------

interface LoadResult {
  ok: number;
  failures: string[];
}

/**
 * `concurrency` loops of GETs for small files, each URL new (a query
 * string), so every request is a miss that reaches a replica, until
 * stop() is called or 30 s have passed. Every answer must be a 200 with
 * the file's exact bytes.
 */
function load(base: string, site: Site, concurrency = 4): { stop(): Promise<LoadResult> } {
  const result: LoadResult = { ok: 0, failures: [] };
  const agent = new Agent({ connections: concurrency });
  const deadline = Date.now() + 30_000;
  let stopping = false;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (!stopping && Date.now() < deadline) {
      const i = n++;
      const file = `/f/${i % SMALL_FILES}.txt`;
      try {
        const res = await request(`${base}${file}?n=${i}`, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode === 200 && body.equals(site.files.get(file) as Buffer)) result.ok++;
        else result.failures.push(`${file}?n=${i}: ${res.statusCode}, ${body.length} bytes`);
      } catch (err) {
        result.failures.push(`${file}?n=${i}: ${(err as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
      await agent.close();
      return result;
    },
  };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const res = await request(url, { headers, reset: true });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

// ---- the suite, once per proxy ---------------------------------------------

type Starter = (dir: string, port: number, upstreams: number[]) => Promise<Proxy>;

function proxySuite(name: 'nginx' | 'varnish', bin: string | null, why: string, start: Starter): void {
  describe(`behind ${name}, two replicas`, function () {
    this.timeout(60_000);
    if (!bin) {
      it.skip(`skipped: ${why}`, () => {});
      return;
    }
    let dir = '';
    let site: Site;
    const replicas: Replica[] = [];
    let proxy: Proxy;

    /** (Re)starts replica i on its port and waits until the proxy sends it requests again. */
    const restart = async (i: number): Promise<void> => {
      const port = (replicas[i] as Replica).port;
      replicas[i] = await startReplica(port, site.root);
    };

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${name}-`));
      site = makeSite(dir);
      const ports = [await freePort(), await freePort()];
      for (const port of ports) replicas.push(await startReplica(port, site.root));
      proxy = await start(dir, await freePort(), ports);
    });

    after(async () => {
      await proxy?.stop();
      for (const r of replicas) {
        r.child.kill('SIGKILL');
        await exited(r.child);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('should spread requests across the replicas', async () => {
      for (let i = 0; i < SMALL_FILES; i++) {
        const res = await get(`${proxy.url}/f/${i}.txt?spread`);
        assert.equal(res.status, 200);
        assert.ok(res.body.equals(site.files.get(`/f/${i}.txt`) as Buffer));
      }
      // A replica's access log reaches this process over a pipe, after its response.
      const spread = (): number => replicas.reduce((n, r) => n + r.log.filter((l) => l.includes('?spread')).length, 0);
      await waitFor('every ?spread request in a replica log', () => spread() >= SMALL_FILES, 5000);
      for (const r of replicas)
        assert.ok(r.log.filter((l) => l.includes('?spread')).length >= SMALL_FILES / 4, `replica ${r.port} took too few of ${SMALL_FILES}`);
    });

    it('should revalidate an expired response with a 304 at the origin', async () => {
      const file = `/rev-${name}.txt`;
      const first = await get(`${proxy.url}${file}`);
      assert.equal(first.status, 200);
      assert.equal(first.headers['x-cache'], 'MISS');
      const second = await get(`${proxy.url}${file}`);
      assert.equal(second.headers['x-cache'], 'HIT');
      // The first request's log line comes over a pipe, after its response.
      await waitFor('the first request in a replica log', () => replicas.some((r) => logged(r, file).length > 0), 5000);
      assert.equal(replicas.flatMap((r) => logged(r, file)).length, 1, 'a fresh entry is served from the cache');
      // Past max-age=1: nginx keeps whole seconds and expires an entry only
      // once the clock has passed its last one.
      await new Promise((r) => setTimeout(r, 2200));
      const third = await get(`${proxy.url}${file}`);
      assert.equal(third.status, 200);
      assert.ok(third.body.equals(site.files.get(file) as Buffer));
      await waitFor('a 304 at the origin', () => replicas.some((r) => logged(r, file, 304).length > 0), 5000);
      assert.equal(replicas.flatMap((r) => logged(r, file, 200)).length, 1, 'the body left a replica once');
    });

    it('should serve exact ranges through the cache, cold and warm', async () => {
      const big = site.files.get('/big.bin') as Buffer;
      const size = big.length;
      const cases: [string, number, number][] = [
        ['bytes=1000-1999', 1000, 1999],
        ['bytes=0-0', 0, 0],
        ['bytes=-500', size - 500, size - 1],
        [`bytes=${size - 100}-`, size - 100, size - 1],
      ];
      for (const round of ['cold', 'warm']) {
        for (const [range, first, last] of cases) {
          const res = await get(`${proxy.url}/big.bin`, { range });
          assert.equal(res.status, 206, `${round} ${range}`);
          assert.equal(res.headers['content-range'], `bytes ${first}-${last}/${size}`, `${round} ${range}`);
          assert.ok(res.body.equals(big.subarray(first, last + 1)), `${round} ${range}: bytes differ`);
        }
      }
      const whole = await get(`${proxy.url}/big.bin`);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(big));
    });

    it('should keep br and identity apart (Vary: Accept-Encoding)', async () => {
      const js = site.files.get('/app.js') as Buffer;
      const br = site.files.get('/app.js.br') as Buffer;
      const asks: [Record<string, string>, 'br' | undefined][] = [
        [{}, undefined],
        [{ 'accept-encoding': 'gzip, deflate, br' }, 'br'],
        [{ 'accept-encoding': 'identity' }, undefined],
        [{ 'accept-encoding': 'br' }, 'br'],
        [{ 'accept-encoding': 'gzip' }, undefined], // no .gz sibling: the original
        [{}, undefined],
        [{ 'accept-encoding': 'br;q=1, gzip;q=0.5' }, 'br'],
        [{ 'accept-encoding': 'br;q=0, gzip' }, undefined],
      ];
      for (const [headers, coding] of asks) {
        const res = await get(`${proxy.url}/app.js`, headers);
        const what = JSON.stringify(headers);
        assert.equal(res.status, 200, what);
        assert.equal(res.headers['content-encoding'], coding, what);
        assert.match(String(res.headers.vary), /accept-encoding/i, what);
        assert.ok(res.body.equals(coding === 'br' ? br : js), `${what}: wrong body (${res.body.length} bytes)`);
      }
      // Each variant was fetched once, then served from the cache.
      const fetched = replicas.flatMap((r) => logged(r, '/app.js', 200)).length;
      assert.ok(fetched <= 3, `${fetched} fetches of /app.js for 2-3 variants`);
    });

    it('should lose no request when a replica is killed', async () => {
      const running = load(proxy.url, site);
      await new Promise((r) => setTimeout(r, 800));
      const victim = replicas[0] as Replica;
      const before = victim.log.length;
      victim.child.kill('SIGKILL');
      await exited(victim.child);
      await new Promise((r) => setTimeout(r, 1500));
      const result = await running.stop();
      assert.deepEqual(result.failures, []);
      assert.ok(result.ok > 50, `only ${result.ok} requests`);
      assert.ok(before > 0, 'the killed replica had been taking requests');
      await restart(0);
    });

    it('should fail no request through a rolling restart (SIGTERM, start, then the next)', async () => {
      // Let the proxy see the replica restarted by the last test as healthy.
      await new Promise((r) => setTimeout(r, 2500));
      const running = load(proxy.url, site);
      await new Promise((r) => setTimeout(r, 500));
      for (const i of [0, 1]) {
        const r = replicas[i] as Replica;
        r.child.kill('SIGTERM');
        assert.equal(await exited(r.child), 0, `replica ${r.port} exits 0 on SIGTERM`);
        await restart(i);
        // Until the proxy sends it requests again (nginx's fail_timeout,
        // Varnish's probe), the other replica serves alone.
        const restarted = replicas[i] as Replica;
        await waitFor(`replica ${restarted.port} to take requests again`, () => restarted.log.some((l) => l.includes('/f/')), 10_000);
      }
      const result = await running.stop();
      assert.deepEqual(result.failures, []);
      assert.ok(result.ok > 50, `only ${result.ok} requests`);
    });
  });
}

const nginx = findBin('nginx');
const varnishd = findBin('varnishd');
const hasCc = spawnSync('sh', ['-c', 'command -v cc || command -v gcc']).status === 0;

describe('deploy: sluice behind a cache', () => {
  proxySuite('nginx', nginx, 'nginx is not installed (Debian: apt-get install nginx-light)', (dir, port, up) => startNginx(nginx as string, dir, port, up));
  proxySuite(
    'varnish',
    varnishd && hasCc ? varnishd : null,
    varnishd ? 'varnishd compiles VCL with cc, which is not installed' : 'varnishd is not installed (Debian: apt-get install varnish)',
    (dir, port, up) => startVarnish(varnishd as string, dir, port, up),
  );
});
