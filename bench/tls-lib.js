'use strict';
// The HTTPS benchmark's pieces, shared by bench/tls.js and the HTTPS case of
// `npm run bench` (bench/run.js): certificates, fixtures, the subjects
// (sluice over HTTPS/1.1 and HTTP/2, bare Node https/http2 servers answering
// from memory, nginx with TLS), h2load on the client CPU, interleaved rounds
// and the report.

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const procs = require('./procs');
const cpu = require('./cpu');
const nginx = require('./nginx');
const { interleaved } = require('./rounds');
const { freePort, waitForPort } = require('./subjects');

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MEMORY = path.join(__dirname, 'servers', 'node-tls-memory.js');
const URL_RE = /https:\/\/127\.0\.0\.1:(\d+)/;
const SIZES = { '1k': 1024, '64k': 64 * 1024 };
const CEILING = { h1: 'node https (memory)', h2: 'node http2 (memory)' };

function need(cmd) {
  if (!procs.onPath(cmd)) throw new Error(`${cmd} is not installed (apt-get install -y ${cmd === 'h2load' ? 'nghttp2-client' : cmd})`);
}

/** A self-signed certificate for 127.0.0.1 of `kind` ('ec': P-256, 'rsa': 2048 bits) in `dir`. */
function makeCert(dir, kind) {
  const key = path.join(dir, `${kind}.key`);
  const cert = path.join(dir, `${kind}.crt`);
  const alg = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  const subj = ['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'];
  execFileSync('openssl', ['req', '-x509', ...alg, '-nodes', '-keyout', key, '-out', cert, '-days', '1', ...subj], { stdio: 'ignore' });
  return { cert, key };
}

function fixtures(dir) {
  for (const [name, size] of Object.entries(SIZES)) {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = 33 + ((i * 131 + 7) % 94);
    fs.writeFileSync(path.join(dir, `${name}.bin`), bytes);
  }
}

/**
 * The subjects for `root` with certificate `tls` (and nginx when `found`).
 * `only`: names to keep (all by default); `protocols` narrows a subject to those.
 */
function subjects(root, tls, found, only = null) {
  const files = Object.keys(SIZES).map((n) => `${n}.bin`);
  const sluice = (extra, cli = CLI) => ({
    cmd: process.execPath,
    args: [cli, root, '--port', '0', '--no-compress', '--ssl-cert', tls.cert, '--ssl-key', tls.key, ...extra],
  });
  const list = [
    { name: 'sluice --http2', protocols: ['h1', 'h2'], ...sluice(['--http2']) },
    { name: 'sluice', protocols: ['h1'], ...sluice([]) },
    { name: CEILING.h1, protocols: ['h1'], cmd: process.execPath, args: [MEMORY, tls.cert, tls.key, root, ...files] },
    { name: CEILING.h2, protocols: ['h1', 'h2'], cmd: process.execPath, args: [MEMORY, tls.cert, tls.key, '--http2', root, ...files] },
    { name: 'node http2 core API (memory)', protocols: ['h2'], cmd: process.execPath, args: [MEMORY, tls.cert, tls.key, '--http2', '--core', root, ...files] },
  ];
  const base = process.env.SLUICE_BENCH_BASELINE;
  if (base)
    list.splice(1, 0, {
      name: 'sluice --http2, baseline build',
      protocols: ['h1', 'h2'],
      ...sluice(['--http2'], path.join(path.resolve(base), 'dist', 'cli.js')),
    });
  if (!found.skip) {
    const server = `        ssl_certificate ${tls.cert};\n        ssl_certificate_key ${tls.key};`;
    list.push({ name: `nginx ${found.version}`, protocols: ['h1', 'h2'], nginx: { found, root, more: { listen: 'ssl http2', server } } });
  }
  if (only === null) return list;
  return list
    .filter((s) => only.some((o) => s.name === o.name || (o.name === 'nginx' && s.nginx)))
    .map((s) => ({ ...s, protocols: only.find((o) => s.name === o.name || (o.name === 'nginx' && s.nginx)).protocols ?? s.protocols }));
}

/** Starts `s` on the server CPU; resolves { child, port, cleanup }. */
async function launch(s, serverCpu = 0) {
  if (s.nginx) {
    const port = await freePort();
    const prepared = nginx.prepare(s.nginx.found, s.nginx.root, port, '', s.nginx.more);
    const child = procs.start(prepared.bin, prepared.args, { cpu: serverCpu });
    await waitForPort(child, port, 10000);
    return { child, port, cleanup: prepared.cleanup };
  }
  const child = procs.start(s.cmd, s.args, { cpu: serverCpu, env: { NODE_ENV: 'production' } });
  const port = Number((await procs.waitForLine(child, URL_RE, 15000))[1]);
  return { child, port, cleanup: () => {} };
}

/**
 * Runs `cmd args` on the client CPU; resolves its output. Killed after
 * `limitSec` (h2load -D on a loaded machine has been seen never to end):
 * the output then says so and the run counts as failed.
 */
function runPinned(cmd, args, limitSec = 120, clientCpu = 1) {
  const argv = procs.TASKSET && clientCpu !== null ? [procs.TASKSET, '-c', String(clientCpu), cmd, ...args] : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      out += `\nbench: killed after ${limitSec} s\n`;
      child.kill('SIGKILL');
    }, limitSec * 1000);
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** One h2load run against `server`: req/s, failures, and server CPU µs per request. */
async function load(server, protocol, size, seconds, clientCpu = 1) {
  const url = `https://127.0.0.1:${server.port}/${size}.bin`;
  const args = protocol === 'h1' ? ['--h1', '-c', '50', '-D', String(seconds), url] : ['-c', '50', '-m', '10', '-D', String(seconds), url];
  const cpu0 = cpu.treeCpuSeconds(server.child.pid);
  const out = await runPinned('h2load', args, seconds + 10, clientCpu);
  const cpuSec = cpu.treeCpuSeconds(server.child.pid) - cpu0;
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const ok = codes ? Number(codes[1]) : 0;
  const alpn = /Application protocol: (\S+)/.exec(out)?.[1] ?? '?';
  const killed = out.includes('bench: killed after');
  return {
    rps: killed ? NaN : rps,
    killed,
    failed: m ? Number(m[2]) + Number(m[3]) : NaN,
    non2xx: codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : NaN,
    cpuUs: ok > 0 && !killed ? (cpuSec * 1e6) / ok : NaN,
    busy: killed ? NaN : cpuSec / seconds,
    alpn,
  };
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

/**
 * Every subject × case in `opts.rounds` interleaved rounds (a subject's
 * server starts fresh each round): Map `${protocol} ${size}` → Map(name → runs).
 * opts: { rounds, duration, warmup (s, default 1), sizes, protocols, serverCpu, clientCpu, progress }.
 */
async function throughput(list, opts) {
  const cases = opts.protocols.flatMap((p) => opts.sizes.map((size) => ({ protocol: p, size })));
  const results = new Map();
  const say = opts.progress ?? ((msg) => process.stderr.write(`bench: ${msg}\n`));
  await interleaved(list, opts.rounds, async (s, round) => {
    const server = await launch(s, opts.serverCpu === undefined ? 0 : opts.serverCpu);
    try {
      for (const c of cases) {
        if (!s.protocols.includes(c.protocol)) continue;
        const clientCpu = opts.clientCpu === undefined ? 1 : opts.clientCpu;
        await load(server, c.protocol, c.size, opts.warmup ?? 1, clientCpu);
        const r = await load(server, c.protocol, c.size, opts.duration, clientCpu);
        const key = `${c.protocol} ${c.size}`;
        if (!results.has(key)) results.set(key, new Map());
        const runs = results.get(key);
        runs.set(s.name, [...(runs.get(s.name) ?? []), r]);
        const what = r.killed ? 'h2load did not end: killed, not counted' : `${Math.round(r.rps)} req/s, ${r.cpuUs.toFixed(0)} µs/req (${r.alpn})`;
        say(`round ${round + 1} ${key} ${s.name}: ${what}`);
      }
    } finally {
      await procs.stop(server.child);
      server.cleanup();
    }
  });
  return results;
}

/** Markdown tables of `results` (throughput()'s), one per protocol × size, under `level` headings. */
function throughputReport(results, level = '###') {
  const lines = [];
  const num = (x, f) => (Number.isFinite(x) ? f(x) : '–');
  for (const [key, runs] of results) {
    const [protocol, size] = key.split(' ');
    const ceiling = median((runs.get(CEILING[protocol]) ?? []).map((r) => r.rps));
    lines.push('', `${level} ${protocol === 'h1' ? 'HTTP/1.1' : 'HTTP/2 (-m 10)'}, ${size === '1k' ? '1 KiB' : '64 KiB'} × 50 connections`, '');
    lines.push(
      `| subject | req/s, median (rounds) | × ${CEILING[protocol]} | server CPU µs/request | × ceiling's CPU | server busy | failed, non-2xx | h2load killed |`,
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    const ceilingCpu = median((runs.get(CEILING[protocol]) ?? []).map((r) => r.cpuUs));
    for (const [name, rs] of runs) {
      const rps = median(rs.map((r) => r.rps));
      const fails = rs.reduce((n, r) => n + (r.killed ? 0 : r.failed + r.non2xx), 0);
      const killed = rs.filter((r) => r.killed).length;
      const each = rs.map((r) => (r.killed ? 'killed' : Math.round(r.rps))).join(', ');
      const us = median(rs.map((r) => r.cpuUs));
      const busy = num(median(rs.map((r) => r.busy)), (b) => `${Math.round(b * 100)}%`);
      const rpsText = num(rps, (x) => Math.round(x).toLocaleString('en-US'));
      lines.push(
        `| ${name} | ${rpsText} (${each}) | ${num(rps / ceiling, (x) => `${x.toFixed(2)}×`)} | ${num(us, (x) => x.toFixed(0))} | ${num(us / ceilingCpu, (x) => `${x.toFixed(2)}×`)} | ${busy} | ${fails} | ${killed} |`,
      );
    }
  }
  return lines.join('\n');
}

module.exports = { SIZES, CEILING, need, makeCert, fixtures, subjects, launch, runPinned, load, median, throughput, throughputReport };
