#!/usr/bin/env node
'use strict';
// The io_uring engine's levers, each before/after in one run (README,
// Engines): server on CPU 0, client on CPU 1, interleaved rounds, medians.
//
//   256 MiB × 1 connection (the bench stream client): server CPU-s per GiB,
//     against sendfile and the C sendfile loop;
//   1 KiB and 64 KiB × 50 connections (wrk): req/s, against bare Node from
//     memory (the ceiling).
//
// Rows: this build's io_uring as shipped; through the ring for every body
// (--small-file-max 0); each task-run mode (SLUICE_URING_TASKRUN); a submit
// per response instead of one per loop turn (SLUICE_URING_BATCH=0); a
// baseline build's io_uring when SLUICE_BENCH_BASELINE names a built
// checkout; and, when run as root, io_uring with 8 MiB pipes
// (fs.pipe-max-size raised while that row's server runs, then put back;
// --max-chunk 8388608).
//
//   node bench/uring-levers.js [--rounds N] [--duration S] [--cases 256m,64k,1k]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const procs = require('./procs');
const { interleaved } = require('./rounds');
const cpu = require('./cpu');
const wrk = require('./wrk');
const stream = require('./stream-client');
const { buildSendfileServer } = require('./ref/build');

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const URL_RE = /http:\/\/127\.0\.0\.1:(\d+)/;
const PIPE_MAX = '/proc/sys/fs/pipe-max-size';
const SIZES = { '256m': 256 * 1024 * 1024, '64k': 64 * 1024, '1k': 1024 };

function options() {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, duration: { type: 'string' }, cases: { type: 'string' } } });
  return {
    rounds: Number(values.rounds ?? 3),
    duration: Number(values.duration ?? 3),
    cases: (values.cases ?? '256m,64k,1k').split(','),
  };
}

function sluice(name, cli, args, extra = {}) {
  // The ring's levers, not the front door's (a baseline build may predate the flag).
  const door = cli === CLI ? ['--no-front-door'] : [];
  return { name, cmd: process.execPath, args: (root) => [cli, root, '--host', '127.0.0.1', '--port', '0', '--no-compress', ...door, ...args], ...extra };
}

function rows(kase, ref) {
  const ring = ['--engine', 'io_uring', '--small-file-max', '0'];
  const list = [
    sluice('io_uring (as shipped)', CLI, ['--engine', 'io_uring']),
    sluice('io_uring, every body through the ring', CLI, ring),
    sluice('io_uring, ring, task run cooperative', CLI, ring, { env: { SLUICE_URING_TASKRUN: 'cooperative' } }),
    sluice('io_uring, ring, task run deferred', CLI, ring, { env: { SLUICE_URING_TASKRUN: 'deferred' } }),
    sluice('io_uring, ring, a submit per response (not batched)', CLI, ring, { env: { SLUICE_URING_BATCH: '0' } }),
  ];
  const base = process.env.SLUICE_BENCH_BASELINE;
  if (base) list.push(sluice('io_uring, ring, baseline build', path.join(path.resolve(base), 'dist', 'cli.js'), ring));
  if (kase === '256m') {
    list.push(sluice('sendfile', CLI, ['--engine', 'sendfile']));
    if (ref.binary) list.push({ name: 'C sendfile loop', cmd: ref.binary, args: (root) => [path.join(root, 'f'), '0'], c: true });
    if (process.getuid?.() === 0 && fs.existsSync(PIPE_MAX)) {
      list.push(
        sluice('io_uring, 8 MiB pipes (fs.pipe-max-size raised)', CLI, [...ring, '--max-chunk', String(8 * 1024 * 1024)], { pipeMax: 8 * 1024 * 1024 }),
      );
    }
  } else {
    list.push({
      name: 'bare Node from memory (ceiling)',
      cmd: process.execPath,
      args: (root) => [path.join(__dirname, 'servers', 'node-memory.js'), root, 'f'],
    });
  }
  return list;
}

/** Raises fs.pipe-max-size for a row that asks, while its server runs; returns the undo. */
function raisePipeMax(row) {
  if (!row.pipeMax) return () => {};
  const before = fs.readFileSync(PIPE_MAX, 'utf8').trim();
  fs.writeFileSync(PIPE_MAX, String(row.pipeMax));
  return () => fs.writeFileSync(PIPE_MAX, before);
}

async function launch(row, root) {
  const child = procs.start(row.cmd, row.args(root), { cpu: 0, env: { NODE_ENV: 'production', ...row.env } });
  const port = Number((await procs.waitForLine(child, URL_RE, 15000))[1]);
  return { child, port, path: row.c ? '/' : '/f' };
}

async function measure(kase, server, seconds) {
  const size = SIZES[kase];
  const cpu0 = cpu.treeCpuSeconds(server.child.pid);
  if (kase === '256m') {
    const out = await stream.run({ port: server.port, path: server.path, connections: 1, durationSec: seconds, size });
    const cpuSec = cpu.treeCpuSeconds(server.child.pid) - cpu0;
    return { value: cpuSec / (out.bytes / 2 ** 30), errors: out.errors };
  }
  const out = await wrk.run({ url: `http://127.0.0.1:${server.port}${server.path}`, connections: 50, durationSec: seconds });
  return { value: out.requests / out.elapsedSec, errors: out.errors + out.non2xx };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function runCase(kase, opts, ref) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-levers-'));
  const fd = fs.openSync(path.join(root, 'f'), 'w');
  const chunk = Buffer.alloc(Math.min(SIZES[kase], 1 << 20));
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 0xff;
  for (let done = 0; done < SIZES[kase]; done += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, SIZES[kase] - done));
  fs.closeSync(fd);
  const list = rows(kase, ref).map((row) => ({ row, values: [], errors: 0 }));
  await interleaved(list, opts.rounds, async (r) => {
    const undo = raisePipeMax(r.row);
    const server = await launch(r.row, root);
    try {
      await measure(kase, server, 1);
      const m = await measure(kase, server, opts.duration);
      r.values.push(m.value);
      r.errors += m.errors;
    } finally {
      await procs.stop(server.child);
      undo();
    }
  });
  fs.rmSync(root, { recursive: true, force: true });
  return list;
}

function report(kase, list) {
  const bulk = kase === '256m';
  const refName = bulk ? 'C sendfile loop' : 'bare Node from memory (ceiling)';
  const ref = list.find((r) => r.row.name === refName);
  const unit = bulk ? 'CPU-s/GiB (lower is better)' : 'req/s (higher is better)';
  const lines = [
    `### ${kase === '256m' ? '256 MiB × 1 connection' : `${kase === '64k' ? '64 KiB' : '1 KiB'} × 50 connections`}: ${unit}`,
    '',
    `| row | median (all rounds) | × ${refName} | errors |`,
    '|---|---:|---:|---:|',
  ];
  for (const r of list) {
    const m = median(r.values);
    const ratio = ref ? (m / median(ref.values)).toFixed(2) : '–';
    lines.push(
      `| ${r.row.name} | ${bulk ? m.toFixed(3) : Math.round(m).toLocaleString('en-US')} (${r.values.map((v) => (bulk ? v.toFixed(3) : Math.round(v))).join(', ')}) | ${ratio}× | ${r.errors} |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const opts = options();
  procs.installExitHandlers();
  if (procs.TASKSET) procs.pinSelf(1);
  const ref = buildSendfileServer();
  const out = [
    `## io_uring levers — ${new Date().toISOString()}`,
    '',
    `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · Linux ${os.release()} · node ${process.version} · ${opts.duration} s × ${opts.rounds} interleaved rounds, medians; server on CPU 0, client on CPU 1.`,
  ];
  for (const kase of opts.cases) {
    out.push('', report(kase, await runCase(kase, opts, ref)));
    process.stderr.write(`bench: ${kase} done\n`);
  }
  if (ref.cleanup) ref.cleanup();
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
