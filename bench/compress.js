#!/usr/bin/env node
'use strict';
// Compressed assets, compressed once or on every request: a real asset mix
// (React DOM's production bundle, Bootstrap's CSS and JS, lodash, from the
// npm packages in node_modules) requested in turn with Accept-Encoding:
// br, gzip at 50 connections, after warm-up, by wrk. Subjects: sluice with
// its compress cache, sluice serving `sluice compress` siblings, `serve`
// (compresses on the fly), Express + compression + serve-static, and nginx
// with gzip on when installed. Reports wire bytes per response, server CPU
// per request, req/s and p99 (medians of interleaved rounds), where the
// first (identity) responses fall, and sluice's brotli sizes beside
// `brotli -q 11` output (zlib at quality 11).
//
//   npm run bench:compress -- [--duration S] [--rounds N] [--connections C]
//   npm run bench:compress -- --storm    (a cached file's latency during a compression storm)

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn } = require('node:child_process');
const { parseArgs } = require('node:util');
const procs = require('./procs');
const cpu = require('./cpu');
const nginx = require('./nginx');
const { interleaved } = require('./rounds');

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const ASSETS = [
  ['react-dom.production.js', 'react-dom/cjs/react-dom-client.production.js'],
  ['bootstrap.min.css', 'bootstrap/dist/css/bootstrap.min.css'],
  ['bootstrap.bundle.min.js', 'bootstrap/dist/js/bootstrap.bundle.min.js'],
  ['lodash.min.js', 'lodash/lodash.min.js'],
  ['bootstrap-grid.min.css', 'bootstrap/dist/css/bootstrap-grid.min.css'],
];
const NGINX_GZIP = `    types { text/css css; application/javascript js; }
    gzip on;
    gzip_comp_level 6;
    gzip_min_length 1024;
    gzip_vary on;
    gzip_types text/css application/javascript;`;

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      storm: { type: 'boolean' },
    },
  });
  return {
    duration: Number(values.duration ?? 5),
    rounds: Number(values.rounds ?? 3),
    connections: Number(values.connections ?? 50),
    warmup: Number(values.warmup ?? 2),
    storm: values.storm === true,
  };
}

/** The asset mix in a fresh root, and a copy with `sluice compress` siblings. */
function prepareRoots() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-compress-'));
  const root = path.join(base, 'public');
  fs.mkdirSync(root);
  for (const [name, from] of ASSETS) fs.copyFileSync(path.join(ROOT, 'node_modules', from), path.join(root, name));
  const siblings = path.join(base, 'siblings');
  fs.cpSync(root, siblings, { recursive: true });
  const run = require('node:child_process').spawnSync(process.execPath, [CLI, 'compress', siblings], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sluice compress failed: ${run.stderr}`);
  return { base, root, siblings, cache: path.join(base, 'cache') };
}

const URL_RE = /http:\/\/127\.0\.0\.1:(\d+)/;

function subjects(dirs, found) {
  const list = [
    { name: 'sluice + compress cache', cmd: process.execPath, args: [CLI, dirs.root, '--port', '0', '--compress-cache', dirs.cache], warmCache: true },
    { name: 'sluice + `sluice compress` siblings', cmd: process.execPath, args: [CLI, dirs.siblings, '--port', '0', '--no-compress'] },
    { name: 'serve 14 (on the fly)', cmd: process.execPath, args: [path.join(ROOT, 'node_modules', 'serve', 'build', 'main.js'), '-n', '-L'], port: true },
    {
      name: 'express + compression + serve-static',
      cmd: process.execPath,
      args: [path.join(__dirname, 'servers', 'express-app.js'), dirs.root, 'serve-static', 'compression'],
    },
  ];
  if (!found.skip) list.push({ name: 'nginx gzip on (level 6)', nginx: true });
  return list;
}

function freePort() {
  return new Promise((resolve) => {
    const srv = require('node:net').createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function launch(subject, dirs, found) {
  if (subject.nginx) {
    const port = await freePort();
    const prepared = nginx.prepare(found, dirs.root, port, NGINX_GZIP);
    const child = procs.start(prepared.bin, prepared.args, { cpu: 0, name: 'nginx' });
    await new Promise((r) => setTimeout(r, 500));
    return { child, url: `http://127.0.0.1:${port}`, cleanup: prepared.cleanup };
  }
  if (subject.port) {
    const port = await freePort();
    const child = procs.start(subject.cmd, [...subject.args, '-l', `tcp://127.0.0.1:${port}`, dirs.root], { cpu: 0, env: { NODE_ENV: 'production' } });
    await new Promise((r) => setTimeout(r, 1500));
    return { child, url: `http://127.0.0.1:${port}`, cleanup: () => {} };
  }
  const child = procs.start(subject.cmd, subject.args, { cpu: 0, env: { NODE_ENV: 'production' } });
  const m = await procs.waitForLine(child, URL_RE, 15000);
  return { child, url: `http://127.0.0.1:${m[1]}`, cleanup: () => {} };
}

/** One request with br, gzip: its wire size (head included) and encoding. */
async function probe(url) {
  const res = await fetch(url, { headers: { 'accept-encoding': 'br, gzip' } });
  const body = Buffer.from(await res.arrayBuffer());
  return { encoding: res.headers.get('content-encoding') || 'identity', length: Number(res.headers.get('content-length') ?? body.length) };
}

/** Requests each asset until its variant comes back; when each first did (ms). */
async function warmCache(url) {
  const t0 = Date.now();
  const firsts = {};
  for (const [name] of ASSETS) {
    const first = await probe(`${url}/${name}`);
    for (;;) {
      const got = await fetch(`${url}/${name}`, { headers: { 'accept-encoding': 'br, gzip' } });
      const enc = got.headers.get('content-encoding');
      const len = Number(got.headers.get('content-length'));
      await got.arrayBuffer();
      if (enc === 'br') {
        firsts[name] = { identityBytes: first.length, firstEncoding: first.encoding, brBytes: len, readyMs: Date.now() - t0 };
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return firsts;
}

function wrk(url, connections, seconds, paths = ASSETS.map(([n]) => `/${n}`)) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', path.join(__dirname, 'wrk-mix.lua'), url];
  const env = { ...process.env, SLUICE_MIX: paths.join(','), SLUICE_WRK_REPORT: path.join(__dirname, 'wrk-report.lua') };
  return new Promise((resolve, reject) => {
    const child = spawn(procs.TASKSET || 'wrk', procs.TASKSET ? ['-c', '1', 'wrk', ...args] : args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const m = out.match(/WRKJSON (\{.*\})/);
      if (code !== 0 || !m) return reject(new Error(`wrk exited with ${code}`));
      resolve(JSON.parse(m[1]));
    });
  });
}

async function measure(server, connections, seconds) {
  const cpu0 = cpu.treeCpuSeconds(server.child.pid);
  const s = await wrk(server.url, connections, seconds);
  const cpuSec = cpu.treeCpuSeconds(server.child.pid) - cpu0;
  const seconds_ = s.duration_us / 1e6;
  return {
    rps: s.requests / seconds_,
    wireBytes: s.bytes / s.requests,
    cpuUs: (cpuSec / s.requests) * 1e6,
    p99: s.p99_us / 1000,
    errors: s.connect + s.read + s.write + s.timeout + s.status,
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function brotliReference(root) {
  const out = {};
  for (const [name] of ASSETS) {
    const bytes = fs.readFileSync(path.join(root, name));
    out[name] = zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  return out;
}

function report(rows, firsts, ref, opts) {
  const lines = [
    `## Compressed assets — ${new Date().toISOString()}`,
    '',
    `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · node ${process.version} · wrk -c${opts.connections}, ${opts.duration} s × ${opts.rounds} interleaved rounds, medians; server on CPU 0, wrk on CPU 1; Accept-Encoding: br, gzip over ${ASSETS.length} assets in turn.`,
    '',
    '| subject | req/s | wire bytes/response | server CPU µs/request | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${Math.round(median(r.rps)).toLocaleString('en-US')} | ${Math.round(median(r.wire)).toLocaleString('en-US')} | ${median(r.cpu).toFixed(1)} | ${median(r.p99).toFixed(1)} | ${r.errors} |`,
    );
  }
  lines.push(
    '',
    '| asset | identity bytes | first response | variant ready after (ms) | sluice br bytes | zlib brotli q11 bytes | ratio |',
    '|---|---:|---|---:|---:|---:|---:|',
  );
  for (const [name] of ASSETS) {
    const f = firsts[name];
    lines.push(`| ${name} | ${f.identityBytes} | ${f.firstEncoding} | ${f.readyMs} | ${f.brBytes} | ${ref[name]} | ${(f.brBytes / ref[name]).toFixed(3)} |`);
  }
  return lines.join('\n');
}

/**
 * A compression storm: a cached small file's rate and p99 under wrk, and
 * the server's event-loop delay, quiet and while 20 more connections ask
 * for 2,000 distinct compressible files, every one a cache miss (a fresh
 * set each round, so no round finds the previous one's variants). The same
 * storm against the same server without its cache separates what the
 * compressions cost from what serving the storm's own identity bytes costs.
 * Arms and rounds interleave; medians.
 */
async function storm(opts) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-storm-'));
  const root = path.join(base, 'public');
  fs.mkdirSync(root);
  const css = fs.readFileSync(path.join(ROOT, 'node_modules', 'bootstrap', 'dist', 'css', 'bootstrap-grid.min.css'));
  const small = css.subarray(0, 4096);
  fs.writeFileSync(path.join(root, 'small.css'), small);
  // A sibling, so both servers answer the small file with the same br bytes.
  fs.writeFileSync(path.join(root, 'small.css.br'), zlib.brotliCompressSync(small));
  const arms = [
    { name: 'compress cache', cache: path.join(base, 'cache'), rounds: [] },
    { name: 'no compress cache (`--no-compress`)', cache: '-', rounds: [] },
  ];
  for (const arm of arms) {
    arm.child = procs.start(process.execPath, [path.join(__dirname, 'servers', 'sluice-loop-delay.js'), root, arm.cache], {
      cpu: 0,
      ipc: true,
      env: { NODE_ENV: 'production' },
    });
    arm.url = `http://127.0.0.1:${(await procs.waitForLine(arm.child, URL_RE, 15000))[1]}`;
    await probe(`${arm.url}/small.css`);
    await wrkOne(`${arm.url}/small.css`, opts.connections, opts.warmup);
  }
  await new Promise((r) => setTimeout(r, 1000));
  let set = 0;
  await interleaved(arms, opts.rounds, async (arm) => {
    const dir = path.join(root, `storm${set++}`);
    writeStormFiles(dir, css);
    await settle(arms);
    const quiet = await measureWindow(arm, opts, null);
    await settle(arms);
    const loaded = await measureWindow(arm, opts, path.basename(dir));
    arm.rounds.push({ quiet, loaded });
  });
  for (const arm of arms) await procs.stop(arm.child);
  fs.rmSync(base, { recursive: true, force: true });
  return arms;
}

const STORM_FILES = 2000;
const STORM_CONNECTIONS = 20;

/**
 * Waits until no server uses CPU (the compress cache's queue, left over from
 * a storm, is done): the servers share CPU 0, and each is its own session
 * (its own autogroup), so one's low-priority compressions still take CPU
 * from the other.
 */
async function settle(arms) {
  const used = () => arms.reduce((sum, a) => sum + cpu.treeCpuSeconds(a.child.pid), 0);
  for (let last = used(), idle = 0; idle < 4;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = used();
    idle = now - last < 0.01 ? idle + 1 : 0;
    last = now;
  }
}

function writeStormFiles(dir, css) {
  fs.mkdirSync(dir);
  for (let i = 0; i < STORM_FILES; i++) fs.writeFileSync(path.join(dir, `f${i}.css`), Buffer.concat([Buffer.from(`/* ${dir} ${i} */`), css]));
}

/** One measured window: wrk on the small file, with a storm on the files of `stormDir` when given, and the loop delay over it. */
async function measureWindow(arm, opts, stormDir) {
  await ipc(arm.child, 'reset');
  const cpu0 = cpu.treeCpuSeconds(arm.child.pid);
  // The storm runs a little longer than the measured window, so it covers all of it.
  const storm = stormDir ? wrk(arm.url, STORM_CONNECTIONS, opts.duration + 1, stormPaths(stormDir)) : null;
  const small = await wrkOne(`${arm.url}/small.css`, opts.connections, opts.duration);
  const delay = await ipc(arm.child, 'report');
  const serverCpu = (cpu.treeCpuSeconds(arm.child.pid) - cpu0) / opts.duration;
  const s = storm ? await storm : { requests: 0, bytes: 0, duration_us: 1 };
  return { ...small, delay, serverCpu, stormRps: s.requests / (s.duration_us / 1e6), stormMBps: s.bytes / (s.duration_us / 1e6) / 1e6 };
}

function stormPaths(dir) {
  return Array.from({ length: STORM_FILES }, (_, i) => `/${dir}/f${i}.css`);
}

function ipc(child, message) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(message);
  });
}

function wrkOne(url, connections, seconds) {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${Math.ceil(seconds)}s`,
    '--timeout',
    '10s',
    '-H',
    'Accept-Encoding: br, gzip',
    '-s',
    path.join(__dirname, 'wrk-report.lua'),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(procs.TASKSET || 'wrk', procs.TASKSET ? ['-c', '1', 'wrk', ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const m = out.match(/WRKJSON (\{.*\})/);
      if (code !== 0 || !m) return reject(new Error(`wrk exited with ${code}`));
      const s = JSON.parse(m[1]);
      resolve({ rps: s.requests / (s.duration_us / 1e6), p99: s.p99_us / 1000 });
    });
  });
}

function stormReport(arms, opts) {
  const fmt = (x, d = 2) => x.toFixed(d);
  const med = (arm, f) => median(arm.rounds.map(f));
  const lines = [
    '',
    `### A compression storm — ${new Date().toISOString()}`,
    '',
    `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · node ${process.version} · server on CPU 0, wrk and the storm client on CPU 1 · ${opts.duration} s windows × ${opts.rounds} interleaved rounds, medians.`,
    `A cached 4 KiB CSS file under wrk -c${opts.connections}, quiet and while ${STORM_CONNECTIONS} more connections request ${STORM_FILES.toLocaleString('en-US')} distinct compressible 50 KiB files (a fresh set each round: every storm request a cache miss, answered with identity bytes). Loop delay: the server's event loop, monitorEventLoopDelay at 1 ms resolution.`,
    '',
    '| server | window | req/s | p99 ms | loop delay p99 ms | loop delay max ms | storm req/s | storm MB/s | server CPU |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const arm of arms) {
    for (const w of ['quiet', 'loaded']) {
      lines.push(
        `| ${arm.name} | ${w === 'quiet' ? 'quiet' : 'storm'} | ${Math.round(med(arm, (r) => r[w].rps)).toLocaleString('en-US')} | ${fmt(med(arm, (r) => r[w].p99))} | ${fmt(med(arm, (r) => r[w].delay.p99))} | ${fmt(med(arm, (r) => r[w].delay.max))} | ${Math.round(med(arm, (r) => r[w].stormRps)).toLocaleString('en-US')} | ${fmt(
          med(arm, (r) => r[w].stormMBps),
          1,
        )} | ${fmt(med(arm, (r) => r[w].serverCpu))} |`,
      );
    }
  }
  lines.push('', '| server | p99 storm/quiet | loop delay p99 storm/quiet |', '|---|---:|---:|');
  for (const arm of arms) {
    const ratio = (f) => fmt(median(arm.rounds.map((r) => f(r.loaded) / f(r.quiet))));
    lines.push(`| ${arm.name} | ${ratio((w) => w.p99)}× | ${ratio((w) => w.delay.p99)}× |`);
  }
  return lines.join('\n');
}

async function main() {
  const opts = options();
  procs.installExitHandlers();
  // The harness (and its storm client) share the load generator's CPU, not the server's.
  if (procs.TASKSET) procs.pinSelf(1);
  if (opts.storm) {
    process.stdout.write(`${stormReport(await storm(opts), opts)}\n`);
    return;
  }
  const dirs = prepareRoots();
  const found = nginx.findNginx();
  const list = subjects(dirs, found);
  const servers = [];
  let firsts = {};
  for (const subject of list) {
    const server = await launch(subject, dirs, found);
    if (subject.warmCache) firsts = await warmCache(server.url);
    await wrk(server.url, opts.connections, opts.warmup);
    servers.push({ subject, server, rps: [], wire: [], cpu: [], p99: [], errors: 0 });
  }
  await interleaved(servers, opts.rounds, async (s, round) => {
    const m = await measure(s.server, opts.connections, opts.duration);
    s.rps.push(m.rps);
    s.wire.push(m.wireBytes);
    s.cpu.push(m.cpuUs);
    s.p99.push(m.p99);
    s.errors += m.errors;
    process.stderr.write(`round ${round + 1} ${s.subject.name}: ${Math.round(m.rps)} req/s, ${Math.round(m.wireBytes)} B/resp, ${m.cpuUs.toFixed(1)} µs/req\n`);
  });
  for (const s of servers) {
    await procs.stop(s.server.child);
    s.server.cleanup();
  }
  const text = report(
    servers.map((s) => ({ name: s.subject.name, ...s })),
    firsts,
    brotliReference(dirs.root),
    opts,
  );
  process.stdout.write(`${text}\n`);
  const out = path.join(__dirname, 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, `compress-${new Date().toISOString().replace(/[:.]/g, '-')}.md`), `${text}\n`);
  fs.rmSync(dirs.base, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
