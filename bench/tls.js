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

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const procs = require('./procs');
const cpu = require('./cpu');
const nginx = require('./nginx');
const { interleaved } = require('./rounds');
const { CEILING, need, makeCert, fixtures, subjects, launch, runPinned, median, throughput, throughputReport } = require('./tls-lib');

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
  // Each round runs both certificates, alternating which goes first.
  await interleaved(['ec', 'rsa'], opts.rounds, async (kind) => {
    const tls = makeCert(dir, kind);
    for (const s of subjects(root, tls, { skip: 'handshakes: Node servers only' }).filter((x) => x.name === 'sluice' || x.name === CEILING.h1)) {
      const server = await launch(s);
      try {
        rows.push({ kind, name: s.name, ...(await handshakes(server, opts.duration)) });
      } finally {
        await procs.stop(server.child);
      }
    }
  });
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
