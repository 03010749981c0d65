'use strict';
// One case (a file size × a connection count): start every subject, verify
// the bytes each serves, then measure in interleaved rounds (round r runs
// every subject once, starting at a different subject each round, so drift
// on a noisy machine spreads over all of them), and summarize.

const { treePeakRssMiB } = require('./cpu');
const procs = require('./procs');
const { median, summary } = require('./stats');
const { launch } = require('./subjects');
const { verifySubject, startSampler } = require('./verify');
const { interleaved } = require('./rounds');

const GiB = 2 ** 30;
const CLIENT_BOUND = 0.9; // client CPU, in cores, from which a case is client-bound
const SATURATED = 0.05; // a CPU with less idle than this (cores) was the limit
const NOISE = 0.1; // other work on the server's CPU (cores) worth a note

/**
 * Which side limited one measurement: 'client' when the load generator used
 * ≥ 90% of a core, or (pinned) when the client's CPU had no idle time left
 * while the server's did; 'server' when the server's CPU had none left;
 * 'neither' when both CPUs had idle time (a latency-bound server).
 */
function limitOf(m) {
  if (m.clientCores >= CLIENT_BOUND) return 'client';
  if (m.idleOnServerCpu === null) return m.serverCores >= CLIENT_BOUND ? 'server' : 'unknown';
  if (m.idleOnServerCpu < SATURATED) return 'server';
  if (m.idleOnClientCpu < SATURATED) return 'client';
  return 'neither';
}

function caseLabel(kase, file) {
  return `${file.label} × ${kase.connections} conn${kase.connections === 1 ? '' : 's'}`;
}

/** The numbers of one measurement. */
function metrics(r, pin) {
  const el = r.elapsedSec > 0 ? r.elapsedSec : r.wallSec;
  const onServerCpu = pin && r.cpus ? r.cpus[pin.serverCpu] : null;
  const onClientCpu = pin && r.cpus ? r.cpus[pin.clientCpu] : null;
  return {
    requests: r.requests,
    bytes: r.bytes,
    elapsedSec: el,
    wallSec: r.wallSec,
    rps: r.requests / el,
    MBps: r.bytes / el / 1e6,
    p50: r.latency ? r.latency.p50 : null,
    p99: r.latency ? r.latency.p99 : null,
    errors: (r.errors || 0) + (r.non2xx || 0) + (r.mismatches || 0),
    errorDetail: {
      errors: r.errors || 0,
      timeouts: r.timeouts || 0,
      non2xx: r.non2xx || 0,
      mismatches: r.mismatches || 0,
      resets: r.resets || 0,
      statusCodes: r.statusCodes,
      samples: r.errorSamples,
    },
    serverCpuSec: r.serverCpuSec,
    serverCores: r.serverCpuSec / r.wallSec,
    cpuSecPerGiB: r.bytes > 0 ? r.serverCpuSec / (r.bytes / GiB) : null,
    cpuUsPerReq: r.requests > 0 ? (r.serverCpuSec / r.requests) * 1e6 : null,
    clientCpuSec: r.clientCpuSec,
    clientCores: r.clientCpuSec / r.wallSec,
    // What else the two CPUs did (cores). "other" is busy time that was
    // neither the server's (or client's) own nor its ksoftirqd's: other
    // processes, i.e. noise from a shared machine (on the client's CPU, the
    // harness's sampling too). irq overlaps the processes' time (softirq
    // ticks are charged to the task they interrupt).
    otherOnServerCpu: onServerCpu ? Math.max(0, onServerCpu.busy - r.serverCpuSec / r.wallSec - onServerCpu.ksoftirqd) : null,
    ksoftirqdOnServerCpu: onServerCpu ? onServerCpu.ksoftirqd : null,
    irqOnServerCpu: onServerCpu ? onServerCpu.irq : null,
    idleOnServerCpu: onServerCpu ? onServerCpu.idle : null,
    stealOnServerCpu: onServerCpu ? onServerCpu.steal : null,
    // the harness shares the client's CPU (sampling, bookkeeping)
    harnessCores: r.harnessCpuSec / r.wallSec,
    otherOnClientCpu: onClientCpu ? Math.max(0, onClientCpu.busy - (r.clientCpuSec + r.harnessCpuSec) / r.wallSec - onClientCpu.ksoftirqd) : null,
    irqOnClientCpu: onClientCpu ? onClientCpu.irq : null,
    idleOnClientCpu: onClientCpu ? onClientCpu.idle : null,
  };
}

function cpuText(m) {
  let t = `server ${m.serverCores.toFixed(2)} cores`;
  if (m.irqOnServerCpu !== null) {
    t += ` (its CPU: ${m.otherOnServerCpu.toFixed(2)} other, ${m.ksoftirqdOnServerCpu.toFixed(2)} ksoftirqd, ${m.idleOnServerCpu.toFixed(2)} idle)`;
  }
  t += `, client ${m.clientCores.toFixed(2)} cores`;
  if (m.idleOnClientCpu !== null)
    t += ` (its CPU: ${m.harnessCores.toFixed(2)} harness, ${m.otherOnClientCpu.toFixed(2)} other, ${m.idleOnClientCpu.toFixed(2)} idle)`;
  return t;
}

function summarize(row) {
  const runs = row.runs;
  const pick = (k) => runs.map((m) => m[k]);
  row.summary = {
    rps: summary(pick('rps')),
    MBps: summary(pick('MBps')),
    p50: summary(pick('p50')),
    p99: summary(pick('p99')),
    cpuSecPerGiB: summary(pick('cpuSecPerGiB')),
    cpuUsPerReq: summary(pick('cpuUsPerReq')),
    serverCores: summary(pick('serverCores')),
    clientCores: summary(pick('clientCores')),
    errors: runs.reduce((a, m) => a + m.errors, 0),
    otherOnServerCpu: summary(pick('otherOnServerCpu')),
    stealOnServerCpu: summary(pick('stealOnServerCpu')),
    irqOnServerCpu: summary(pick('irqOnServerCpu')),
    idleOnServerCpu: summary(pick('idleOnServerCpu')),
    otherOnClientCpu: summary(pick('otherOnClientCpu')),
    irqOnClientCpu: summary(pick('irqOnClientCpu')),
    idleOnClientCpu: summary(pick('idleOnClientCpu')),
    harnessCores: summary(pick('harnessCores')),
    ksoftirqdOnServerCpu: summary(pick('ksoftirqdOnServerCpu')),
  };
  const limits = runs.map(limitOf);
  const count = (k) => limits.filter((l) => l === k).length;
  row.limit = ['client', 'server', 'neither', 'unknown'].find((k) => count(k) * 2 > runs.length) || 'mixed';
  row.limits = limits;
  row.clientBound = row.limit === 'client';
  if (row.clientBound) {
    const cc = median(pick('clientCores'));
    const other = median(pick('otherOnClientCpu')) || 0;
    row.notes.push(
      cc >= CLIENT_BOUND
        ? `load generator at ${cc.toFixed(2)} cores`
        : `client CPU had no idle time (load generator ${cc.toFixed(2)} cores, other processes ${other.toFixed(2)})`,
    );
  } else if (row.limit === 'neither') {
    row.notes.push(`neither CPU saturated (server CPU idle ${(median(pick('idleOnServerCpu')) || 0).toFixed(2)})`);
  }
  const other = row.summary.otherOnServerCpu.max;
  if (other !== null && other >= NOISE) {
    row.notes.push(`noisy: other work used up to ${other.toFixed(2)} of the server's CPU`);
  }
  const steal = row.summary.stealOnServerCpu.max;
  if (steal !== null && steal >= NOISE) row.notes.push(`steal up to ${steal.toFixed(2)}`);
}

/** The result object of a case, its rows filled in by runCase. */
function caseResult(kase, file, opts, label) {
  return {
    id: kase.id,
    label,
    size: file.size,
    sizeKey: kase.sizeKey,
    sizeLabel: file.label,
    connections: kase.connections,
    kind: kase.kind,
    loadgen: kase.loadgen,
    durationSec: kase.durationSec,
    warmupSec: kase.warmupSec,
    rewarmSec: kase.rewarmSec,
    repeats: opts.repeats,
    rows: [],
  };
}

/** A subject's row in a case's result, before it starts. */
function newRow(subject) {
  return {
    subject,
    name: subject.name,
    label: subject.label,
    group: subject.group,
    status: 'ok',
    reason: null,
    notes: [],
    runs: [],
  };
}

/** Stops a row's server and forgets it. */
async function stopServer(row) {
  await procs.stop(row.server.child);
  row.server.cleanup();
  row.server = null;
}

/** Marks a row FAILED with `why`, noting its peak memory and stopping its server. */
async function failRow(cx, row, why) {
  row.status = 'failed';
  row.reason = why;
  cx.progress(`${cx.label} · ${row.name}: FAILED: ${why}`);
  if (row.server) {
    if (!row.server.child.exited) row.peakRssMiB = treePeakRssMiB(row.server.child.pid);
    await stopServer(row);
  }
}

/** How a row's server ended, with the tail of its stderr. */
function died(row) {
  const c = row.server.child;
  return `server ${procs.describeExit(c)}${c.stderrTail.trim() ? `; stderr: ${procs.tail(c.stderrTail, 8)}` : ''}`;
}

/** Notes which engine a sluice subject runs when it is not the one asked for, or when none was. */
function noteEngine(row) {
  row.engine = row.server.engine;
  if (row.subject.engine && row.engine && row.engine !== row.subject.engine) {
    row.notes.push(`runs engine=${row.engine}`);
  } else if (!row.subject.engine && row.engine) {
    row.notes.push(`engine=${row.engine}`);
  }
}

/**
 * Starts a row's server. A subject this machine cannot run (an engine it
 * lacks) is skipped, and stays skipped in later cases (cx.skip); any other
 * failure to start fails the row.
 */
async function startRow(cx, row) {
  if (cx.skip.has(row.name)) {
    row.status = 'skipped';
    row.reason = cx.skip.get(row.name);
    return;
  }
  try {
    row.server = await launch(row.subject, cx.ctx, cx.kase);
    noteEngine(row);
  } catch (err) {
    if (err.unavailable) {
      row.status = 'skipped';
      row.reason = err.message.replace(/^exited with code \d+: /, '').replace(/^sluice: /, '');
      cx.skip.set(row.name, row.reason);
      cx.progress(`${row.name}: skipped: ${row.reason}`);
    } else {
      row.status = 'failed';
      row.reason = `did not start: ${err.message}`;
      cx.progress(`${cx.label} · ${row.name}: FAILED to start: ${err.message}`);
    }
  }
}

/** Verify before measuring: whole-file sha256 and a byte range. */
async function verifyRows(cx, rows) {
  for (const row of rows) {
    if (row.status !== 'ok') continue;
    const bad = await verifySubject(row.server.url, cx.file, { ranges: row.subject.ranges !== false });
    if (bad) await failRow(cx, row, `wrong response before load: ${bad}`);
    else if (row.server.child.exited) await failRow(cx, row, died(row));
  }
  const verified = rows.filter((r) => r.status === 'ok').map((r) => r.name);
  cx.progress(`${cx.label}: bytes verified for ${verified.join(', ') || 'nobody'}`);
}

/** The load generator's job for one run against a row's server. */
function loadJob(cx, row, durationSec) {
  return {
    loadgen: cx.kase.loadgen,
    url: `${row.server.url}/${cx.file.name}`,
    connections: cx.kase.connections,
    durationSec,
    timeoutSec: 10,
    size: cx.file.size,
    serverPid: row.server.child.pid,
  };
}

/** The warm-up before a measurement: the load generator's error, or null. */
async function warmUp(cx, row, warmSec) {
  try {
    if (warmSec > 0) await cx.loadgen.run(loadJob(cx, row, warmSec));
    return null;
  } catch (err) {
    return err;
  }
}

/**
 * One measured run, with the byte sampler running beside it when the
 * subject wants it, and the harness's own CPU time over it.
 */
async function measuredRun(cx, row) {
  const { subject } = row;
  const sampled = typeof subject.sampleInLoad === 'function' ? subject.sampleInLoad(cx.kase) : subject.sampleInLoad !== false;
  const sampler = sampled ? startSampler(row.server.url, cx.file, { ranges: subject.ranges !== false }) : null;
  const harness0 = process.cpuUsage();
  let res = null;
  let loadErr = null;
  try {
    res = await cx.loadgen.run(loadJob(cx, row, cx.kase.durationSec));
  } catch (err) {
    loadErr = err;
  }
  const harness = process.cpuUsage(harness0);
  const samples = sampler ? await sampler.stop() : null;
  return { res, loadErr, harness, samples };
}

/**
 * A warm-up and a measured run: { res, harness, samples } or, when the
 * server died or sent wrong bytes, { problem }, or { loadErr } when the load
 * generator failed.
 */
async function attemptRun(cx, row, r, warmSec) {
  const warmErr = await warmUp(cx, row, warmSec);
  if (row.server.child.exited) return { problem: `during warm-up: ${died(row)}` };
  if (warmErr) return { loadErr: warmErr };
  const out = await measuredRun(cx, row);
  if (row.server.child.exited) return { problem: `during run ${r + 1}: ${died(row)}` };
  if (out.samples && out.samples.failures.length) return { problem: `wrong bytes during run ${r + 1}: ${out.samples.failures.join('; ')}` };
  return out;
}

/**
 * A load generator failure is not the server's: retry once (the worker is
 * restarted), then give up on this subject.
 */
async function runWithRetry(cx, row, r, warmSec) {
  for (let attempt = 1; ; attempt++) {
    const out = await attemptRun(cx, row, r, warmSec);
    if (out.problem || !out.loadErr) return out;
    if (attempt === 2) return { problem: `load generator failed twice during run ${r + 1}: ${out.loadErr.message}` };
    cx.progress(`${cx.label} · ${row.name}: load generator failed (${out.loadErr.message}); retrying`);
  }
}

/** The progress line's figures for one measurement: GB/s and CPU per GiB for bulk cases, req/s and MB/s else. */
function runText(kase, m) {
  return kase.kind === 'bulk'
    ? `${(m.MBps / 1000).toFixed(2)} GB/s, ${m.cpuSecPerGiB === null ? '–' : m.cpuSecPerGiB.toFixed(2)} CPU-s/GiB`
    : `${Math.round(m.rps).toLocaleString('en-US')} req/s, ${m.MBps.toFixed(1)} MB/s`;
}

/** Adds a measurement to its row and reports it. */
function recordRun(cx, row, r, { res, harness, samples }) {
  const { ctx, opts } = cx;
  res.harnessCpuSec = (harness.user + harness.system) / 1e6;
  const m = metrics(res, ctx.pin ? { serverCpu: ctx.serverCpu, clientCpu: ctx.clientCpu } : null);
  m.samples = samples ? { checked: samples.samples, errors: samples.errors } : null;
  row.runs.push(m);
  cx.progress(`${cx.label} · ${row.name} · run ${r + 1}/${opts.repeats}: ${runText(cx.kase, m)}, ${cpuText(m)}${m.errors ? `, ${m.errors} errors` : ''}`);
}

/** Measures a row in round r (0-based): the first round after the full warm-up, later ones after the re-warm-up. */
async function measureRow(cx, row, r) {
  if (row.status !== 'ok') return;
  if (row.server.child.exited) {
    await failRow(cx, row, died(row));
    return;
  }
  const warmSec = r === 0 ? cx.kase.warmupSec : cx.kase.rewarmSec;
  const out = await runWithRetry(cx, row, r, warmSec);
  if (out.problem) await failRow(cx, row, out.problem);
  else recordRun(cx, row, r, out);
}

/** Peak memory, then stop everything; a server that exited during the case fails its row. */
async function stopRows(cx, rows) {
  await Promise.all(
    rows.map(async (row) => {
      if (!row.server) return;
      if (!row.server.child.exited) row.peakRssMiB = treePeakRssMiB(row.server.child.pid);
      else if (row.status === 'ok') await failRow(cx, row, died(row));
      if (row.server) await stopServer(row);
    }),
  );
}

/**
 * Runs `kase` for `subjects`. env: { ctx, opts, loadgen, file, progress, skip }
 * where skip is a Map(subject name → reason) shared across cases.
 */
async function runCase(kase, subjects, env) {
  const { ctx, opts, loadgen, file, progress, skip } = env;
  const label = caseLabel(kase, file);
  const cx = { kase, ctx, opts, loadgen, file, progress, skip, label };
  const result = caseResult(kase, file, opts, label);
  const rows = subjects.map(newRow);
  result.rows = rows;

  progress(`${label}: starting ${rows.map((r) => r.name).join(', ')}`);
  await Promise.all(rows.map((row) => startRow(cx, row)));
  await verifyRows(cx, rows);
  // Each round rotates the rows still measured (a failed one drops out).
  await interleaved(
    () => rows.filter((row) => row.status === 'ok'),
    opts.repeats,
    (row, r) => measureRow(cx, row, r),
  );
  await stopRows(cx, rows);

  for (const row of rows) {
    if (row.runs.length) summarize(row);
    delete row.server;
  }
  return result;
}

module.exports = { runCase, caseLabel, limitOf, CLIENT_BOUND };
