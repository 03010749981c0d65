#!/usr/bin/env node
'use strict';
// The soak: every engine in turn under a mixed load at 50 to 200
// connections for a share of --minutes, every complete body (and every
// part of a cut-off one) checked byte for byte, and the server's RSS,
// descriptors and event-loop delay sampled each second. Exits 1 when a bar
// is missed: a wrong byte, a failed request, descriptors not back to their
// baseline, RSS growing 5% or more, or a stalled reader never cut off.
//
//   npm run bench:soak -- [--minutes N] [--engines a,b] [--lanes 200] [--json FILE]
//
// The load rises from 50 to 200 connections and back three times in each
// engine's window: the first cycle warms up, RSS after warm-up is the
// second cycle's peak and RSS at the end the third's.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const procs = require('./procs');
const { SoakSite } = require('./soak-files');
const { prime, startLoad } = require('./soak-load');

const SERVER = path.join(__dirname, 'servers', 'sluice-soak.js');
const ENGINES = ['auto', 'sendfile', 'splice', 'io_uring', 'copy'];
const SEND_TIMEOUT_MS = 4000;
const CYCLES = 3;
const MIN_LANES = 50;
const RSS_GROWTH_MAX = 0.05;
/**
 * RSS growth is a bar only when a load cycle lasts this long: over shorter
 * ones (the 1-minute form gives 4 s cycles) it measures V8's heap still
 * settling, not a leak, and is reported without being judged.
 */
const RSS_JUDGED_CYCLE_MS = 20_000;
/** Descriptors the pipe pools may keep idle (two pools of 64 pipes, two ends each). */
const PIPE_FDS_MAX = 256;
/** The open-file table closes an entry unasked for 60 s, at its next sweep (at most 10 s later). */
const FILE_INACTIVE_MS = 70_000;

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      engines: { type: 'string', default: ENGINES.join(',') },
      lanes: { type: 'string', default: '200' },
      json: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  const lanes = Number(values.lanes);
  const engines = values.engines.split(',').filter(Boolean);
  if (!(minutes > 0)) throw new Error(`--minutes must be a number above 0, not ${values.minutes}`);
  if (!Number.isInteger(lanes) || lanes < MIN_LANES) throw new Error(`--lanes must be an integer of at least ${MIN_LANES}`);
  for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`unknown engine ${e} (${ENGINES.join(', ')})`);
  return { windowMs: (minutes * 60_000) / engines.length, lanes, engines, json: values.json };
}

/** The process's descriptors by kind: sockets, pipes, files, other (epoll, eventfd, io_uring). */
function descriptors(pid) {
  const out = { sockets: 0, pipes: 0, files: 0, other: 0 };
  let names;
  try {
    names = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  for (const name of names) {
    let target;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue;
    }
    if (target.startsWith('socket:')) out.sockets++;
    else if (target.startsWith('pipe:')) out.pipes++;
    else if (target.startsWith('/')) out.files++;
    else out.other++;
  }
  return out;
}

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** 50 → lanes → 50, CYCLES times over the window. */
function concurrency(elapsedMs, windowMs, lanes) {
  const x = ((elapsedMs / windowMs) * CYCLES) % 1;
  return Math.round(MIN_LANES + (lanes - MIN_LANES) * (1 - Math.abs(2 * x - 1)));
}

/** Files under `dir`, at any depth (the compress cache's variants). */
function countFiles(dir) {
  try {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
  } catch {
    return 0;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer(engine, root, cache) {
  const child = procs.start(process.execPath, [SERVER, root, engine, cache, String(SEND_TIMEOUT_MS)], {
    cpu: os.cpus().length > 1 ? 0 : null,
    ipc: true,
    name: `sluice-soak ${engine}`,
  });
  const m = await procs.waitForLine(child, /(listening on (\S+) (.*)|unavailable: (.*))\n/, 15_000);
  if (m[4] !== undefined) {
    await child.exitPromise;
    return { unavailable: m[4] };
  }
  return { child, base: m[2], note: m[3] };
}

/** Polls `probe` every 100 ms until it returns true or `ms` pass; says whether it did. */
async function until(probe, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (probe()) return true;
    await sleep(100);
  }
  return probe();
}

/** The engine's window: the load, a sample each second, the site changing under it. */
async function soakOne(engine, opts) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-soak-${engine}-`));
  try {
    const site = new SoakSite(path.join(dir, 'site'));
    const started = await startServer(engine, site.root, path.join(dir, 'cache'));
    if (started.unavailable) return { engine, skipped: started.unavailable };
    const { child, base, note } = started;
    const pid = child.pid;
    const loop = [];
    child.on('message', (m) => loop.push({ ...m, at: Date.now() }));
    await prime({ base, site });
    await sleep(1500);
    const baseline = descriptors(pid);
    const t0 = Date.now();
    const samples = [];
    const load = startLoad({
      base,
      site,
      lanes: opts.lanes,
      sendTimeout: SEND_TIMEOUT_MS,
      target: () => concurrency(Date.now() - t0, opts.windowMs, opts.lanes),
    });
    let turn = 0;
    const swapper = setInterval(() => site.swap(++turn), 300);
    const freshener = setInterval(() => site.addFresh(), 1000);
    while (Date.now() - t0 < opts.windowMs) {
      await sleep(1000);
      samples.push({ t: Date.now() - t0, rss: rssBytes(pid), fds: descriptors(pid) });
    }
    clearInterval(swapper);
    clearInterval(freshener);
    await load.stop();
    const settled = await until(() => descriptors(pid)?.sockets <= baseline.sockets, 3 * SEND_TIMEOUT_MS);
    await sleep(1500); // past the open-file table's one second of trust
    const after = descriptors(pid);
    await procs.stop(child);
    const files = site.count(FILE_INACTIVE_MS) + countFiles(path.join(dir, 'cache'));
    return { engine, note, files, baseline, after, settled, samples, loop, t0, tally: load.tally, codings: load.codings, windowMs: opts.windowMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The peak of `field` over `points` (each `t` ms after the load began) in load cycle k, from 0. */
function cyclePeak(r, points, k, field) {
  const cycle = r.windowMs / CYCLES;
  return Math.max(0, ...points.filter((p) => p.t > k * cycle && p.t <= (k + 1) * cycle).map((p) => p[field]));
}

/** RSS after warm-up (the second cycle's peak) and at the end (the third's). */
function rssGrowth(r) {
  const warm = cyclePeak(r, r.samples, 1, 'rss');
  const end = cyclePeak(r, r.samples, 2, 'rss');
  return { warm, end, growth: warm > 0 ? end / warm - 1 : 0 };
}

/** V8's heap and the memory outside it (Buffers, the addon) over the same cycles, in the server's own words. */
function memoryGrowth(r) {
  const points = r.loop.map((l) => ({ ...l, t: l.at - r.t0 }));
  const peaks = (field) => [1, 2].map((k) => cyclePeak(r, points, k, field));
  return { heap: peaks('heapUsed'), external: peaks('external') };
}

const rssJudged = (r) => r.windowMs / CYCLES >= RSS_JUDGED_CYCLE_MS;

/** The bars this engine's window missed (empty: it passed). */
function misses(r) {
  const out = [];
  if (r.tally.wrongBytes > 0) out.push(`${r.tally.wrongBytes} wrong bytes in ${r.tally.wrongBodies} bodies`);
  if (r.tally.errorCount() > 0) out.push(`${r.tally.errorCount()} failed requests`);
  if (!r.settled || r.after.sockets > r.baseline.sockets) out.push(`sockets ${r.after.sockets}, baseline ${r.baseline.sockets}`);
  if (r.after.other > r.baseline.other) out.push(`other descriptors ${r.after.other}, baseline ${r.baseline.other}`);
  if (r.after.pipes > PIPE_FDS_MAX) out.push(`${r.after.pipes} pipe descriptors kept (pools hold at most ${PIPE_FDS_MAX})`);
  if (r.after.files > r.files + r.baseline.files) out.push(`${r.after.files} files open for ${r.files} files and cached variants`);
  const { growth } = rssGrowth(r);
  if (rssJudged(r) && growth >= RSS_GROWTH_MAX) out.push(`RSS grew ${(growth * 100).toFixed(1)}%`);
  return out;
}

const mib = (b) => (b / 1048576).toFixed(1);
const fdText = (d) => `${d.sockets}/${d.pipes}/${d.files}/${d.other}`;

function report(results, opts) {
  const lines = [
    `sluice soak · ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · node ${process.version} · ${(opts.windowMs / 1000).toFixed(0)} s per engine, ${MIN_LANES}–${opts.lanes} connections, send timeout ${SEND_TIMEOUT_MS} ms`,
    '',
    '| engine | requests | verified MiB | wrong bytes | failed | aborted | cut off | RSS warm → end MiB | growth | heap / external warm → end MiB | fds base → peak → after (sock/pipe/file/other) | loop p99 median / max ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`| ${r.engine} | skipped: ${r.skipped} | | | | | | | | | | |`);
      continue;
    }
    const { warm, end, growth } = rssGrowth(r);
    const peak = r.samples.reduce((p, s) => (s.fds && s.fds.sockets + s.fds.pipes + s.fds.files > p.sockets + p.pipes + p.files ? s.fds : p), r.baseline);
    const p99s = r.loop.map((l) => l.loopP99);
    const { heap, external } = memoryGrowth(r);
    lines.push(
      `| ${r.engine} | ${r.tally.total()} | ${mib(r.tally.bytes)} | ${r.tally.wrongBytes} | ${r.tally.errorCount()} | ${r.tally.aborted} | ${r.tally.cutOff} | ${mib(warm)} → ${mib(end)} | ${(growth * 100).toFixed(1)}%${rssJudged(r) ? '' : ' (not judged)'} | ${mib(heap[0])} → ${mib(heap[1])} / ${mib(external[0])} → ${mib(external[1])} | ${fdText(r.baseline)} → ${fdText(peak)} → ${fdText(r.after)} | ${median(p99s).toFixed(1)} / ${Math.max(0, ...p99s).toFixed(1)} |`,
    );
  }
  lines.push('');
  if (results.some((r) => !r.skipped && !rssJudged(r)))
    lines.push(
      `RSS growth is judged only over load cycles of ${RSS_JUDGED_CYCLE_MS / 1000} s or more (--minutes ${((RSS_JUDGED_CYCLE_MS * CYCLES * results.length) / 60_000).toFixed(0)} or more for these engines).`,
      '',
    );
  for (const r of results.filter((x) => !x.skipped)) {
    const ops = Object.entries(r.tally.requests).map(([op, n]) => `${op} ${n}`);
    const codings = Object.entries(r.codings).map(([c, n]) => `${c} ${n}`);
    lines.push(`${r.engine} (${r.note}): ${ops.join(', ')}; compressed answers: ${codings.join(', ') || 'none'}`);
    for (const [what, n] of r.tally.errors) lines.push(`  ${n} × ${what}`);
    for (const m of misses(r)) lines.push(`  MISSED: ${m}`);
  }
  return lines.join('\n');
}

async function main() {
  const opts = options();
  procs.installExitHandlers();
  if (procs.TASKSET && os.cpus().length > 1) procs.pinSelf(1);
  const results = [];
  for (const engine of opts.engines) {
    process.stderr.write(`soak: ${engine} for ${(opts.windowMs / 1000).toFixed(0)} s\n`);
    results.push(await soakOne(engine, opts));
  }
  process.stdout.write(`${report(results, opts)}\n`);
  if (opts.json) {
    const plain = results.map((r) =>
      r.skipped
        ? r
        : { ...r, tally: { ...r.tally, errors: Object.fromEntries(r.tally.errors) }, rss: rssGrowth(r), memory: memoryGrowth(r), misses: misses(r) },
    );
    fs.writeFileSync(opts.json, `${JSON.stringify(plain, null, 2)}\n`);
  }
  const failed = results.filter((r) => !r.skipped && misses(r).length > 0);
  if (failed.length > 0) {
    process.stderr.write(`soak: bars missed under ${failed.map((r) => r.engine).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
  process.exit(2);
});
