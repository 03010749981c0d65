#!/usr/bin/env node
'use strict';
// HTTPS against Node's own TLS ceiling (README, Engines: HTTPS): h2load
// (--h1, and HTTP/2 with -m 10 streams a connection), 50 kept-alive
// connections, server on CPU 0, h2load on CPU 1, interleaved rounds,
// medians of req/s and of server CPU per request.
//
// Subjects: sluice --http2 (the HTTPS server that also answers HTTP/1.1),
// sluice without --http2 (HTTP/1.1 only), bare Node `https` and `http2`
// secure servers answering the same bytes from memory (the ceiling: nothing
// built on Node's TLS sends faster), and nginx when installed.
//
// SLUICE_BENCH_BASELINE=DIR adds `sluice --http2` from another built
// checkout (before and after a change, in one run).
//
// --handshakes adds full and resumed TLS 1.3 handshakes (openssl s_time,
// one connection at a time) with ECDSA P-256 and RSA-2048 certificates:
// server CPU per handshake.
//
//   node bench/tls.js [--rounds N] [--duration S] [--sizes 1k,64k] [--protocols h1,h2] [--handshakes]

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const procs = require('./procs');
const cpu = require('./cpu');
const nginx = require('./nginx');
const { freePort, waitForPort } = require('./subjects');

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MEMORY = path.join(__dirname, 'servers', 'node-tls-memory.js');
const URL_RE = /https:\/\/127\.0\.0\.1:(\d+)/;
const SIZES = { '1k': 1024, '64k': 64 * 1024 };
const CEILING = { h1: 'node https (memory)', h2: 'node http2 (memory)' };

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      sizes: { type: 'string' },
      protocols: { type: 'string' },
      handshakes: { type: 'boolean' },
    },
  });
  return {
    rounds: Number(values.rounds ?? 3),
    duration: Number(values.duration ?? 4),
    sizes: (values.sizes ?? '1k,64k').split(','),
    protocols: (values.protocols ?? 'h1,h2').split(','),
    handshakes: Boolean(values.handshakes),
  };
}

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

function subjects(root, tls, found) {
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
  return list;
}

/** Starts `s` on CPU 0; resolves { child, port, cleanup }. */
async function launch(s) {
  if (s.nginx) {
    const port = await freePort();
    const prepared = nginx.prepare(s.nginx.found, s.nginx.root, port, '', s.nginx.more);
    const child = procs.start(prepared.bin, prepared.args, { cpu: 0 });
    await waitForPort(child, port, 10000);
    return { child, port, cleanup: prepared.cleanup };
  }
  const child = procs.start(s.cmd, s.args, { cpu: 0, env: { NODE_ENV: 'production' } });
  const port = Number((await procs.waitForLine(child, URL_RE, 15000))[1]);
  return { child, port, cleanup: () => {} };
}

/** Runs `cmd args` on CPU 1; resolves its stdout. */
function runPinned(cmd, args) {
  const argv = procs.TASKSET ? [procs.TASKSET, '-c', '1', cmd, ...args] : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
}

/** One h2load run against `server`: req/s, failures, and server CPU µs per request. */
async function load(server, protocol, size, seconds) {
  const url = `https://127.0.0.1:${server.port}/${size}.bin`;
  const args = protocol === 'h1' ? ['--h1', '-c', '50', '-D', String(seconds), url] : ['-c', '50', '-m', '10', '-D', String(seconds), url];
  const cpu0 = cpu.treeCpuSeconds(server.child.pid);
  const out = await runPinned('h2load', args);
  const cpuSec = cpu.treeCpuSeconds(server.child.pid) - cpu0;
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const ok = codes ? Number(codes[1]) : 0;
  const alpn = /Application protocol: (\S+)/.exec(out)?.[1] ?? '?';
  return {
    rps,
    failed: m ? Number(m[2]) + Number(m[3]) : NaN,
    non2xx: codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : NaN,
    cpuUs: ok > 0 ? (cpuSec * 1e6) / ok : NaN,
    busy: cpuSec / seconds,
    alpn,
  };
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

async function throughput(list, opts) {
  const cases = opts.protocols.flatMap((p) => opts.sizes.map((size) => ({ protocol: p, size })));
  const results = new Map(); // `${protocol} ${size}` -> Map(name -> [runs])
  for (let round = 0; round < opts.rounds; round++) {
    const order = round % 2 === 0 ? list : [...list].reverse();
    for (const s of order) {
      const server = await launch(s);
      try {
        for (const c of cases) {
          if (!s.protocols.includes(c.protocol)) continue;
          await load(server, c.protocol, c.size, 1);
          const r = await load(server, c.protocol, c.size, opts.duration);
          const key = `${c.protocol} ${c.size}`;
          if (!results.has(key)) results.set(key, new Map());
          const runs = results.get(key);
          runs.set(s.name, [...(runs.get(s.name) ?? []), r]);
          process.stderr.write(`bench: round ${round + 1} ${key} ${s.name}: ${Math.round(r.rps)} req/s, ${r.cpuUs.toFixed(0)} µs/req (${r.alpn})\n`);
        }
      } finally {
        await procs.stop(server.child);
        server.cleanup();
      }
    }
  }
  return results;
}

function throughputReport(results) {
  const lines = [];
  for (const [key, runs] of results) {
    const [protocol, size] = key.split(' ');
    const ceiling = median((runs.get(CEILING[protocol]) ?? []).map((r) => r.rps));
    lines.push('', `### ${protocol === 'h1' ? 'HTTP/1.1' : 'HTTP/2 (-m 10)'}, ${size === '1k' ? '1 KiB' : '64 KiB'} × 50 connections`, '');
    lines.push(`| subject | req/s, median (rounds) | × ${CEILING[protocol]} | server CPU µs/request | × ceiling's CPU | server busy | failed, non-2xx |`);
    lines.push('|---|---:|---:|---:|---:|---:|---:|');
    const ceilingCpu = median((runs.get(CEILING[protocol]) ?? []).map((r) => r.cpuUs));
    for (const [name, rs] of runs) {
      const rps = median(rs.map((r) => r.rps));
      const fails = rs.reduce((n, r) => n + r.failed + r.non2xx, 0);
      const each = rs.map((r) => Math.round(r.rps)).join(', ');
      const us = median(rs.map((r) => r.cpuUs));
      const busy = `${Math.round(median(rs.map((r) => r.busy)) * 100)}%`;
      lines.push(
        `| ${name} | ${Math.round(rps).toLocaleString('en-US')} (${each}) | ${(rps / ceiling).toFixed(2)}× | ${us.toFixed(0)} | ${(us / ceilingCpu).toFixed(2)}× | ${busy} | ${fails} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Server CPU per handshake, full (-new) and resumed (-reuse), over `seconds` of one-at-a-time connections. */
async function handshakes(server, seconds) {
  const out = {};
  for (const mode of ['-new', '-reuse']) {
    const cpu0 = cpu.treeCpuSeconds(server.child.pid);
    const text = await runPinned('openssl', ['s_time', '-connect', `127.0.0.1:${server.port}`, mode, '-time', String(seconds), '-www', '/1k.bin']);
    const cpuSec = cpu.treeCpuSeconds(server.child.pid) - cpu0;
    const count = Number(/(\d+) connections in \d+ real seconds/.exec(text)?.[1] ?? NaN);
    out[mode.slice(1)] = { perSec: count / seconds, cpuUs: (cpuSec * 1e6) / count };
  }
  return out;
}

async function handshakeReport(root, dir, opts) {
  const rows = [];
  for (let round = 0; round < opts.rounds; round++) {
    for (const kind of round % 2 === 0 ? ['ec', 'rsa'] : ['rsa', 'ec']) {
      const tls = makeCert(dir, kind);
      for (const s of subjects(root, tls, { skip: 'handshakes: Node servers only' }).filter((x) => x.name === 'sluice' || x.name === CEILING.h1)) {
        const server = await launch(s);
        try {
          rows.push({ kind, name: s.name, ...(await handshakes(server, opts.duration)) });
        } finally {
          await procs.stop(server.child);
        }
      }
    }
  }
  const lines = ['', '### TLS 1.3 handshakes, one connection at a time (openssl s_time -www /1k.bin)', ''];
  lines.push('| certificate | subject | full: /s | full: server CPU µs | resumed: /s | resumed: server CPU µs |', '|---|---|---:|---:|---:|---:|');
  for (const kind of ['ec', 'rsa']) {
    for (const name of ['sluice', CEILING.h1]) {
      const rs = rows.filter((r) => r.kind === kind && r.name === name);
      const m = (mode, field) => median(rs.map((r) => r[mode][field])).toFixed(0);
      lines.push(
        `| ${kind === 'ec' ? 'ECDSA P-256' : 'RSA 2048'} | ${name} | ${m('new', 'perSec')} | ${m('new', 'cpuUs')} | ${m('reuse', 'perSec')} | ${m('reuse', 'cpuUs')} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main() {
  const opts = options();
  need('h2load');
  need('openssl');
  procs.installExitHandlers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-tls-'));
  procs.onExit(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'www');
  fs.mkdirSync(root);
  fixtures(root);
  const found = nginx.findNginx();
  if (found.skip) process.stderr.write(`bench: ${found.skip}: nginx skipped\n`);
  const list = subjects(root, makeCert(dir, 'ec'), found);
  const out = [
    `## HTTPS against Node's TLS ceiling — ${new Date().toISOString()}`,
    '',
    `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · Linux ${os.release()} · node ${process.version} · OpenSSL ${process.versions.openssl} · ECDSA P-256 certificate · h2load -c 50 -D ${opts.duration} (HTTP/2: -m 10) · ${opts.rounds} interleaved rounds, medians; server on CPU 0, h2load on CPU 1.`,
  ];
  out.push(throughputReport(await throughput(list, opts)));
  if (opts.handshakes) out.push(await handshakeReport(root, dir, opts));
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
