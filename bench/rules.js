'use strict';
// What serve.json's rules cost: the CLI serving a 1 KiB file to 50
// connections with a serve.json of 20 header rules and 10 rewrites (none of
// which names the file), against the same CLI on the same files without a
// config. Interleaved rounds (each round runs both, alternating which goes
// first), server pinned to CPU 0 and autocannon to CPU 1 when there are two.
//
//   node bench/rules.js [--duration 5] [--rounds 5] [--connections 50] [--loadgen wrk|autocannon]
//
// Prints each round, the medians of req/s and of the server's CPU time per
// request, and their ratios (target: at least 0.95 of the throughput). wrk
// drives the load when installed (one autocannon process is the limit at
// 1 KiB); on a shared machine the CPU per request is the steadier figure.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { request } = require('undici');
const procs = require('./procs');
const { startLoadGenerator } = require('./load');
const { interleaved } = require('./rounds');

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');

function options() {
  const { values } = parseArgs({
    options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, loadgen: { type: 'string' } },
  });
  return {
    duration: Number(values.duration ?? 5),
    rounds: Number(values.rounds ?? 5),
    connections: Number(values.connections ?? 50),
    loadgen: values.loadgen ?? (procs.onPath('wrk') ? 'wrk' : 'autocannon'),
  };
}

/** 20 header rules and 10 rewrites of the kind a site has, none for /file-1k.bin. */
function serveJson() {
  const headers = [];
  const kinds = ['js', 'css', 'woff2', 'png', 'svg', 'map', 'json', 'webp', 'avif', 'wasm'];
  for (const ext of kinds) {
    headers.push({ source: `/assets/**/*.${ext}`, headers: [{ key: 'Cache-Control', value: 'public, max-age=31536000, immutable' }] });
    headers.push({ source: `/static/*.${ext}`, headers: [{ key: 'X-Kind', value: ext }] });
  }
  const rewrites = [];
  for (let i = 0; i < 10; i++) rewrites.push({ source: `/app${i}/:path*`, destination: `/app${i}/index.html` });
  return { headers, rewrites };
}

function makeRoots() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-rules-'));
  const plain = path.join(base, 'plain');
  const ruled = path.join(base, 'ruled');
  const bytes = Buffer.alloc(1024, 'x');
  for (const dir of [plain, ruled]) {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'file-1k.bin'), bytes);
  }
  fs.writeFileSync(path.join(ruled, 'serve.json'), JSON.stringify(serveJson(), null, 2));
  procs.onExit(() => fs.rmSync(base, { recursive: true, force: true }));
  return { plain, ruled };
}

async function startServer(name, root, cpu) {
  const child = procs.start(process.execPath, [CLI, root, '--port', '0'], { cpu, name });
  const m = await procs.waitForLine(child, /http:\/\/127\.0\.0\.1:(\d+) engine=(\S+)/, 15000);
  return { name, child, url: `http://127.0.0.1:${m[1]}/file-1k.bin`, engine: m[2] };
}

async function check(server) {
  const res = await request(server.url);
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200 || body.length !== 1024) throw new Error(`${server.name}: ${res.statusCode}, ${body.length} bytes`);
  if (res.headers['x-kind'] !== undefined) throw new Error(`${server.name}: a rule matched the file`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const opts = options();
  procs.installExitHandlers();
  const pin = os.availableParallelism() >= 2;
  const roots = makeRoots();
  const servers = [await startServer('no config', roots.plain, pin ? 0 : null), await startServer('serve.json', roots.ruled, pin ? 0 : null)];
  for (const s of servers) await check(s);
  const lg = await startLoadGenerator(pin ? 1 : null);
  const rps = new Map(servers.map((s) => [s.name, []]));
  const cpu = new Map(servers.map((s) => [s.name, []]));
  try {
    await interleaved(servers, opts.rounds, async (s, round) => {
      const job = { loadgen: opts.loadgen, url: s.url, connections: opts.connections, timeoutSec: 10, size: 1024, serverPid: s.child.pid };
      await lg.run({ ...job, durationSec: 1 });
      const r = await lg.run({ ...job, durationSec: opts.duration });
      if (r.errors || r.non2xx || r.timeouts) throw new Error(`${s.name}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
      const perSec = r.requests / r.elapsedSec;
      const usPerRequest = (r.serverCpuSec / r.requests) * 1e6;
      rps.get(s.name).push(perSec);
      cpu.get(s.name).push(usPerRequest);
      process.stdout.write(`round ${round + 1}  ${s.name.padEnd(10)}  ${Math.round(perSec)} req/s  ${usPerRequest.toFixed(1)} µs CPU/req\n`);
    });
  } finally {
    await lg.close();
    for (const s of servers) await procs.stop(s.child);
  }
  const plain = median(rps.get('no config'));
  const ruled = median(rps.get('serve.json'));
  const plainCpu = median(cpu.get('no config'));
  const ruledCpu = median(cpu.get('serve.json'));
  const head = `1 KiB × ${opts.connections} connections, ${opts.loadgen}, engine ${servers[0].engine}, ${opts.rounds} rounds of ${opts.duration} s, medians:`;
  process.stdout.write(`\n${head}\n`);
  process.stdout.write(`  no config:  ${Math.round(plain)} req/s, ${plainCpu.toFixed(1)} µs CPU/req\n`);
  process.stdout.write(`  serve.json (20 header rules, 10 rewrites): ${Math.round(ruled)} req/s, ${ruledCpu.toFixed(1)} µs CPU/req\n`);
  process.stdout.write(`  throughput ratio: ${(ruled / plain).toFixed(3)} (target ≥ 0.95); CPU per request ratio: ${(plainCpu / ruledCpu).toFixed(3)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench/rules: ${err.stack || err.message}\n`);
  procs.killAll();
  process.exit(1);
});
