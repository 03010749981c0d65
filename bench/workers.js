'use strict';
// `npm run bench:workers`: sluice --workers 2 with each way of sharing the
// port, on the Node running this script: `kernel` (every worker owns an
// SO_REUSEPORT socket; Node 22.12+) and `cluster` (node:cluster's primary
// accepts and hands each connection to a worker). wrk drives a 1 KiB file
// over kept-alive connections and with a new connection per request
// (`Connection: close`), where the primary's part shows. Reports req/s,
// p99, errors and where the CPU went: the primary and each worker.
//
//   ~/.cache/sluice-node/node-24.*/bin/node bench/workers.js [--duration 3] [--rounds 3] [--connections 50]
//
// Nothing is pinned: two workers and wrk share the machine's CPUs, as
// they would in production on a small host.

const { spawn, execFileSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');
const procs = require('./procs');
const { readStat } = require('./cpu');
const { makeFixtures } = require('./fixtures');
const { interleaved } = require('./rounds');

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
const { hasReusePort } = require(path.join(__dirname, '..', 'dist', 'workers-listen.js'));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function cpuSeconds(pid) {
  const st = readStat(pid);
  return st ? (st.utime + st.stime) / CLK_TCK : 0;
}

function wrk(url, connections, seconds, close) {
  const bin = procs.onPath('wrk');
  if (!bin) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', path.join(__dirname, 'wrk-report.lua')];
  if (close) args.push('-H', 'Connection: close');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const m = out.match(/WRKJSON (\{.*\})/);
      if (code !== 0 || !m) return reject(new Error(`wrk exited with ${code}: ${out.trim()}`));
      resolve(JSON.parse(m[1]));
    });
  });
}

async function measure(balance, root, file, connections, seconds, close) {
  const child = procs.start(process.execPath, [CLI, root, '--port', '0', '--workers', '2', '--no-compress'], {
    env: { NODE_ENV: 'production', SLUICE_WORKERS_BALANCE: balance === 'cluster' ? 'cluster' : '' },
    name: `sluice-${balance}`,
  });
  try {
    const m = await procs.waitForLine(child, /http:\/\/127\.0\.0\.1:(\d+)/, 15000);
    // setpriv execs node: the child is the primary, the workers its children.
    const primary = child.pid;
    const workers = execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
    const url = `http://127.0.0.1:${m[1]}/${file}`;
    await wrk(url, connections, 1, close); // warm-up
    const before = [primary, ...workers].map(cpuSeconds);
    const s = await wrk(url, connections, seconds, close);
    const after = [primary, ...workers].map(cpuSeconds);
    const used = after.map((a, i) => a - before[i]);
    const elapsed = s.duration_us / 1e6;
    return {
      balance,
      connection: close ? 'close' : 'keep-alive',
      reqPerSec: Math.round(s.requests / elapsed),
      p99ms: s.p99_us / 1000,
      errors: s.connect + s.read + s.write + s.timeout + s.status,
      primaryCpu: used[0],
      workerCpu: used.slice(1),
    };
  } finally {
    await procs.stop(child, 2000);
  }
}

function table(rows, seconds, rounds) {
  const lines = [
    `| balance | connections | req/s (median) | req/s (rounds) | p99 ms | errors | primary CPU-s | worker CPU-s (each) | worker share |`,
    `|---|---|---:|---|---:|---:|---:|---|---:|`,
  ];
  for (const r of rows) {
    const total = r.workerCpu.reduce((a, b) => a + b, 0);
    const share = total > 0 ? `${Math.round((100 * Math.max(...r.workerCpu)) / total)}% / ${Math.round((100 * Math.min(...r.workerCpu)) / total)}%` : '-';
    lines.push(
      `| ${r.balance} | ${r.connection} | ${r.reqPerSec.toLocaleString('en-US')} | ${r.rounds.map((x) => x.toLocaleString('en-US')).join(', ')} | ${r.p99ms.toFixed(2)} | ${r.errors} | ${r.primaryCpu.toFixed(2)} | ${r.workerCpu.map((c) => c.toFixed(2)).join(' + ')} | ${share} |`,
    );
  }
  lines.push('', `(${rounds} interleaved rounds of ${seconds} s; p99 and CPU from the median round; share = busiest / least busy worker)`);
  return lines.join('\n');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The median round of one balance × connection mode (by req/s), with every round's req/s. */
function summarise(runs) {
  const byRate = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  const mid = byRate[Math.floor(byRate.length / 2)];
  return { ...mid, reqPerSec: median(runs.map((r) => r.reqPerSec)), rounds: runs.map((r) => r.reqPerSec), errors: runs.reduce((a, r) => a + r.errors, 0) };
}

async function main() {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, connections: { type: 'string' }, rounds: { type: 'string' } } });
  const seconds = Number(values.duration ?? 3);
  const connections = Number(values.connections ?? 50);
  const rounds = Number(values.rounds ?? 3);
  procs.installExitHandlers();
  const fx = makeFixtures(['1k']);
  const balances = hasReusePort() ? ['cluster', 'kernel'] : ['cluster'];
  if (balances.length === 1) process.stderr.write(`node ${process.version} has no reusePort on listen() (22.12+): measuring cluster only\n`);
  const combos = [false, true].flatMap((close) => balances.map((balance) => ({ balance, close })));
  const runs = new Map(combos.map((c) => [`${c.balance} ${c.close}`, []]));
  try {
    // Interleaved rounds, each starting with a different combination, so
    // that other load on the machine falls on all of them alike.
    await interleaved(combos, rounds, async ({ balance, close }, round) => {
      process.stderr.write(`round ${round + 1}/${rounds}: ${balance}, ${close ? 'Connection: close' : 'keep-alive'}...\n`);
      runs.get(`${balance} ${close}`).push(await measure(balance, fx.dir, fx.files['1k'].name, connections, seconds, close));
    });
  } finally {
    fx.cleanup();
  }
  const rows = combos.map((c) => summarise(runs.get(`${c.balance} ${c.close}`)));
  process.stdout.write(
    `node ${process.version}, ${require('node:os').cpus().length} CPUs, --workers 2, 1 KiB file, ${connections} connections (wrk -t1), not pinned\n\n`,
  );
  process.stdout.write(`${table(rows, seconds, rounds)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
