#!/usr/bin/env node
'use strict';
// `npm run bench`: the entry point. Parses the options, prepares fixtures,
// the C reference and the load generator, runs every case, then prints the
// Markdown report and writes JSON + Markdown + SVG to bench/results/.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { runCase } = require('./case');
const envInfo = require('./env');
const { makeFixtures } = require('./fixtures');
const https = require('./https-case');
const { startLoadGenerator } = require('./load');
const nginx = require('./nginx');
const options = require('./options');
const procs = require('./procs');
const { buildSendfileServer, buildEpollServer } = require('./ref/build');
const report = require('./report');
const { median } = require('./stats');
const { SUBJECTS, CLI } = require('./subjects');
const targets = require('./targets');

const QUICK_BUDGET_SEC = 160; // the quick run's plain cases must finish in under 3 minutes (the HTTPS case comes after)
const t0 = Date.now();
const progress = (msg) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);

function selectSubjects(names) {
  // A baseline build is measured only when one is given, the Nest apps only
  // when @nestjs/serve-static is (NEST_SERVE_STATIC_DIR), or when named.
  if (!names) {
    return SUBJECTS.filter(
      (s) => (!s.name.startsWith('baseline-') || process.env.SLUICE_BENCH_BASELINE) && (s.name.split('-')[0] !== 'nest' || process.env.NEST_SERVE_STATIC_DIR),
    );
  }
  const picked = new Set();
  for (const n of names) {
    const hits = SUBJECTS.filter((s) => s.name === n || s.name.startsWith(`${n}-`));
    if (hits.length === 0) throw new Error(`--subjects: unknown subject '${n}' (known: ${SUBJECTS.map((s) => s.name).join(', ')})`);
    for (const h of hits) picked.add(h);
  }
  return SUBJECTS.filter((s) => picked.has(s));
}

/** The two CPUs to use (server, client) from this process's affinity, or why not. */
function pinning(opts, nproc) {
  if (!opts.pin) return { enabled: false, reason: '--no-pin' };
  if (!procs.TASKSET) return { enabled: false, reason: 'taskset not found' };
  let cpus = [];
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m);
    for (const part of m[1].split(',')) {
      const [a, b = a] = part.split('-').map(Number);
      for (let c = a; c <= b; c++) cpus.push(c);
    }
  } catch {
    cpus = Array.from({ length: nproc }, (_, i) => i);
  }
  if (cpus.length < 2) return { enabled: false, reason: `only ${cpus.length} CPU available` };
  return { enabled: true, serverCpu: cpus[0], clientCpu: cpus[1] };
}

/** Engines `dist/cli.js --engines` reports unavailable: name → reason (for the time estimate). */
function unavailableEngines() {
  try {
    const out = execFileSync(process.execPath, [CLI, '--engines'], { encoding: 'utf8', timeout: 15000 });
    const map = new Map();
    for (const line of out.split('\n')) {
      const m = line.match(/^(\S+)\s+unavailable:\s*(.*)$/);
      if (m) map.set(`sluice-${m[1]}`, m[2]);
    }
    return map;
  } catch {
    return new Map();
  }
}

/** Seconds a run will take, roughly. */
function estimate(caseList, subjectsFor, opts) {
  let sec = 5;
  for (const kase of caseList) {
    const n = subjectsFor(kase).length;
    const perRun = kase.durationSec + 0.15;
    sec += 2 + n * (kase.size >= 64 * 2 ** 20 ? 0.9 : 0.15);
    sec += n * (kase.warmupSec + (opts.repeats - 1) * kase.rewarmSec + opts.repeats * perRun);
  }
  return sec;
}

/**
 * Quick mode: shortens, in this order, the large-file warm-up and runs, the other runs
 * (to no less than 1 s), the re-warm-ups and the first warm-up, until the
 * estimate fits the budget.
 */
function fit(caseList, subjectsFor, opts) {
  const fits = () => estimate(caseList, subjectsFor, opts) <= QUICK_BUDGET_SEC;
  const steps = [
    () =>
      caseList.forEach((k) => {
        if (k.kind === 'bulk') k.warmupSec = Math.min(k.warmupSec, 0.5);
      }),
    ...[1.75, 1.5, 1.25, 1].map(
      (d) => () =>
        caseList.forEach((k) => {
          if (k.kind === 'bulk') k.durationSec = Math.min(k.durationSec, d);
        }),
    ),
    ...[1.75, 1.5, 1.25, 1].map(
      (d) => () =>
        caseList.forEach((k) => {
          k.durationSec = Math.min(k.durationSec, d);
        }),
    ),
    () =>
      caseList.forEach((k) => {
        k.rewarmSec = Math.min(k.rewarmSec, 0.25);
      }),
    () =>
      caseList.forEach((k) => {
        k.warmupSec = Math.min(k.warmupSec, 0.5);
      }),
  ];
  for (const step of steps) {
    if (fits()) return;
    step();
  }
}

/** The options, or exit 2 with the usage on a bad argument. */
function parseOptions() {
  try {
    return options.parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n\n${options.HELP}`);
    process.exit(2);
  }
}

/** Fails early when the run cannot go: sluice not built, or wrk asked for and missing. */
function checkPrerequisites(opts, selected) {
  if (selected.some((s) => s.group === 'sluice') && !fs.existsSync(CLI)) {
    throw new Error(`${path.relative(process.cwd(), CLI)} is missing: build sluice first (npx tsc -p tsconfig.json)`);
  }
  if (opts.loadgen === 'wrk' && !procs.onPath('wrk')) throw new Error('--loadgen wrk: wrk is not installed');
}

/** Pins the harness to the client's CPU when pinning, and says where everything runs. */
function pinHarness(opts, env) {
  const pin = pinning(opts, env.nproc);
  if (pin.enabled) procs.pinSelf(pin.clientCpu);
  progress(
    `${env.os}, ${env.cpuModel} × ${env.nproc}, node ${env.node}; ${pin.enabled ? `server on CPU ${pin.serverCpu}, client on CPU ${pin.clientCpu}` : `not pinned (${pin.reason})`}`,
  );
  return pin;
}

/** What subjects.launch needs to know about the run; nginx and the C references are filled in when selected. */
function benchContext(pin) {
  return {
    root: null,
    pin: pin.enabled,
    serverCpu: pin.serverCpu,
    clientCpu: pin.clientCpu,
    nginx: { skip: 'not selected' },
    cref: { skip: 'not selected' },
    crefEpoll: { skip: 'not selected' },
  };
}

/** Finds nginx when selected (skipped with the reason when missing). */
function findSelectedNginx(ctx, selected, skip) {
  if (!selected.some((s) => s.name === 'nginx')) return;
  ctx.nginx = nginx.findNginx();
  if (ctx.nginx.skip) {
    skip.set('nginx', ctx.nginx.skip);
    progress(`nginx: skipped: ${ctx.nginx.skip}`);
  }
}

/** The C references are compiled only when selected and some case needs them. */
function buildReferences(ctx, selected, caseList, skip) {
  for (const [name, key, build] of [
    ['c-sendfile', 'cref', buildSendfileServer],
    ['c-epoll', 'crefEpoll', buildEpollServer],
  ]) {
    const subject = selected.find((s) => s.name === name);
    if (!subject || !caseList.some((k) => subject.appliesTo(k))) continue;
    ctx[key] = build();
    if (ctx[key].skip) {
      skip.set(name, ctx[key].skip);
      progress(`${name}: skipped: ${ctx[key].skip}`);
    } else procs.onExit(ctx[key].cleanup);
  }
}

/**
 * Durations: quick runs are fitted into the time budget. Returns the HTTPS
 * case's timing (null with --no-https) and the nginx it would use.
 */
function planDurations(opts, caseList, selected, ctx, skip) {
  const unavailable = unavailableEngines();
  const subjectsFor = (kase) => selected.filter((s) => (!s.appliesTo || s.appliesTo(kase)) && !skip.has(s.name) && !unavailable.has(s.name));
  for (const kase of caseList) {
    kase.durationSec = opts.durationSec;
    kase.warmupSec = kase.kind === 'bulk' ? Math.min(opts.warmupSec, 1) : opts.warmupSec;
    kase.rewarmSec = Math.min(0.5, kase.warmupSec);
  }
  // The HTTPS case (h2load): 1 s measurements in a quick run, after the
  // other cases' budget.
  const httpsTiming = opts.https ? { rounds: opts.repeats, durationSec: opts.full || opts.durationExplicit ? opts.durationSec : 1, warmupSec: 1 } : null;
  const nginxFound = httpsTiming ? (ctx.nginx.skip === 'not selected' ? nginx.findNginx() : ctx.nginx) : null;
  const httpsSec = httpsTiming ? https.estimate(httpsTiming, nginxFound) : 0;
  if (!opts.full && !opts.durationExplicit) fit(caseList, subjectsFor, opts);
  progress(
    `${caseList.length} cases × up to ${selected.length} subjects, ${opts.repeats} rounds of ${[...new Set(caseList.map((k) => k.durationSec))].join('/')} s; estimated ${Math.round(estimate(caseList, subjectsFor, opts) + httpsSec)} s${httpsTiming ? ` (HTTPS case: ${Math.round(httpsSec)} s)` : ''}`,
  );
  return { httpsTiming, nginxFound };
}

/** Writes the fixtures every case needs, removed on exit. */
function prepareFixtures(ctx, caseList) {
  const fixtures = makeFixtures([...new Set(caseList.map((k) => k.sizeKey))]);
  procs.onExit(fixtures.cleanup);
  ctx.root = fixtures.dir;
  progress(
    `fixtures in ${fixtures.dir}: ${Object.values(fixtures.files)
      .map((f) => f.label)
      .join(', ')}`,
  );
  return fixtures;
}

/** Runs every case in turn on one load generator. */
async function runCases(caseList, selected, fixtures, env) {
  const { ctx, opts, pin, skip } = env;
  const loadgen = await startLoadGenerator(pin.enabled ? pin.clientCpu : null);
  const cases = [];
  for (const kase of caseList) {
    const file = fixtures.files[kase.sizeKey];
    kase.file = file;
    const subjects = selected.filter((s) => !s.appliesTo || s.appliesTo(kase));
    cases.push(await runCase(kase, subjects, { ctx, opts, loadgen, file, progress, skip }));
  }
  await loadgen.close();
  return cases;
}

/** The HTTPS case, or null with --no-https. */
async function runHttps(httpsTiming, nginxFound, pin) {
  if (!httpsTiming) return null;
  progress('https: h2load against sluice --http2, the Node TLS ceilings and nginx with TLS');
  const httpsCase = await https.runHttpsCase({
    ...httpsTiming,
    serverCpu: pin.enabled ? pin.serverCpu : null,
    clientCpu: pin.enabled ? pin.clientCpu : null,
    progress,
    nginxFound,
  });
  if (httpsCase.skip) progress(`https: skipped: ${httpsCase.skip}`);
  return httpsCase;
}

/** Everything the JSON holds: the machine, the options, every measurement, the targets and the noise. */
function collectResults({ env, opts, pin, ctx, skip, fixtures, cases, httpsCase, httpsTiming }) {
  const results = {
    env,
    options: { ...opts },
    pinning: pin,
    nginx: ctx.nginx.skip ? { skip: ctx.nginx.skip } : { version: ctx.nginx.version },
    cref: ctx.cref.skip ? { skip: ctx.cref.skip } : { binary: 'bench/ref/sendfile_server.c (cc -O2)' },
    crefEpoll: ctx.crefEpoll.skip ? { skip: ctx.crefEpoll.skip } : { binary: 'bench/ref/epoll_server.c (cc -O2)' },
    skipped: Object.fromEntries(skip),
    fixtures: Object.fromEntries(Object.values(fixtures.files).map((f) => [f.key, { size: f.size, sha256: f.sha256 }])),
    cases,
    https: httpsCase === null ? { skip: '--no-https' } : httpsCase.skip ? { skip: httpsCase.skip } : { timing: httpsTiming, runs: httpsCase.results },
    elapsedSec: (Date.now() - t0) / 1000,
  };
  results.targets = targets.check(results);
  const others = cases.flatMap((k) => k.rows.flatMap((r) => r.runs.map((m) => m.otherOnServerCpu))).filter((v) => typeof v === 'number');
  results.noise = others.length ? { maxOtherOnServerCpu: Math.max(...others), medianOtherOnServerCpu: median(others) } : null;
  return results;
}

/** Prints the Markdown report and writes the results files. */
function writeReport(results, httpsCase, opts) {
  const md = report.markdown(results) + (httpsCase?.markdown ?? (httpsCase?.skip ? `\n## HTTPS\n\nSkipped: ${httpsCase.skip}.\n` : ''));
  process.stdout.write(md);
  const written = report.write(results, md, { dir: path.join(__dirname, 'results'), jsonPath: opts.json });
  progress(`done in ${Math.round(results.elapsedSec)} s; wrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
}

async function main() {
  const opts = parseOptions();
  if (opts.help) {
    process.stdout.write(options.HELP);
    return;
  }
  const selected = selectSubjects(opts.subjects);
  if (opts.list) {
    for (const s of SUBJECTS) process.stdout.write(`${s.name.padEnd(16)} ${s.group.padEnd(8)} ${s.label}\n`);
    return;
  }
  procs.installExitHandlers();
  checkPrerequisites(opts, selected);

  const env = envInfo.collect();
  const pin = pinHarness(opts, env);
  const caseList = options.cases(opts);
  const skip = new Map();
  const ctx = benchContext(pin);
  findSelectedNginx(ctx, selected, skip);
  buildReferences(ctx, selected, caseList, skip);
  const { httpsTiming, nginxFound } = planDurations(opts, caseList, selected, ctx, skip);
  const fixtures = prepareFixtures(ctx, caseList);

  const cases = await runCases(caseList, selected, fixtures, { ctx, opts, pin, skip });
  const httpsCase = await runHttps(httpsTiming, nginxFound, pin);
  const results = collectResults({ env, opts, pin, ctx, skip, fixtures, cases, httpsCase, httpsTiming });
  writeReport(results, httpsCase, opts);
}

main().then(
  () => {
    procs.killAll();
  },
  (err) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exitCode = 1;
  },
);
