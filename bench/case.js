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
const { roundOrder } = require('./rounds');

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

/**
 * Runs `kase` for `subjects`. env: { ctx, opts, loadgen, file, progress, skip }
 * where skip is a Map(subject name → reason) shared across cases.
 */
async function runCase(kase, subjects, env) {
  const { ctx, opts, loadgen, file, progress, skip } = env;
  const label = caseLabel(kase, file);
  const result = {
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
  const rows = subjects.map((subject) => ({
    subject,
    name: subject.name,
    label: subject.label,
    group: subject.group,
    status: 'ok',
    reason: null,
    notes: [],
    runs: [],
  }));
  result.rows = rows;

  const fail = async (row, why) => {
    row.status = 'failed';
    row.reason = why;
    progress(`${label} · ${row.name}: FAILED: ${why}`);
    if (row.server) {
      if (!row.server.child.exited) row.peakRssMiB = treePeakRssMiB(row.server.child.pid);
      await procs.stop(row.server.child);
      row.server.cleanup();
      row.server = null;
    }
  };
  const died = (row) => {
    const c = row.server.child;
    return `server ${procs.describeExit(c)}${c.stderrTail.trim() ? `; stderr: ${procs.tail(c.stderrTail, 8)}` : ''}`;
  };

  progress(`${label}: starting ${rows.map((r) => r.name).join(', ')}`);
  await Promise.all(
    rows.map(async (row) => {
      if (skip.has(row.name)) {
        row.status = 'skipped';
        row.reason = skip.get(row.name);
        return;
      }
      try {
        row.server = await launch(row.subject, ctx, kase);
        row.engine = row.server.engine;
        if (row.subject.engine && row.engine && row.engine !== row.subject.engine) {
          row.notes.push(`runs engine=${row.engine}`);
        } else if (!row.subject.engine && row.engine) {
          row.notes.push(`engine=${row.engine}`);
        }
      } catch (err) {
        if (err.unavailable) {
          row.status = 'skipped';
          row.reason = err.message.replace(/^exited with code \d+: /, '').replace(/^sluice: /, '');
          skip.set(row.name, row.reason);
          progress(`${row.name}: skipped: ${row.reason}`);
        } else {
          row.status = 'failed';
          row.reason = `did not start: ${err.message}`;
          progress(`${label} · ${row.name}: FAILED to start: ${err.message}`);
        }
      }
    }),
  );

  // Verify before measuring: whole-file sha256 and a byte range.
  for (const row of rows) {
    if (row.status !== 'ok') continue;
    const bad = await verifySubject(row.server.url, file, { ranges: row.subject.ranges !== false });
    if (bad) await fail(row, `wrong response before load: ${bad}`);
    else if (row.server.child.exited) await fail(row, died(row));
  }
  const verified = rows.filter((r) => r.status === 'ok').map((r) => r.name);
  progress(`${label}: bytes verified for ${verified.join(', ') || 'nobody'}`);

  const job = (row, durationSec) => ({
    loadgen: kase.loadgen,
    url: `${row.server.url}/${file.name}`,
    connections: kase.connections,
    durationSec,
    timeoutSec: 10,
    size: file.size,
    serverPid: row.server.child.pid,
  });

  for (let r = 0; r < opts.repeats; r++) {
    const active = rows.filter((row) => row.status === 'ok');
    const order = roundOrder(active, r);
    for (const row of order) {
      if (row.status !== 'ok') continue;
      if (row.server.child.exited) {
        await fail(row, died(row));
        continue;
      }
      const warm = r === 0 ? kase.warmupSec : kase.rewarmSec;
      // A load generator failure is not the server's: retry once (the
      // worker is restarted), then give up on this subject.
      let res = null;
      let samples = null;
      let harness = null;
      let problem = null;
      for (let attempt = 1; attempt <= 2 && !res && !problem; attempt++) {
        let loadErr = null;
        try {
          if (warm > 0) await loadgen.run(job(row, warm));
        } catch (err) {
          loadErr = err;
        }
        if (row.server.child.exited) {
          problem = `during warm-up: ${died(row)}`;
          break;
        }
        if (!loadErr) {
          const sampled = typeof row.subject.sampleInLoad === 'function' ? row.subject.sampleInLoad(kase) : row.subject.sampleInLoad !== false;
          const sampler = sampled ? startSampler(row.server.url, file, { ranges: row.subject.ranges !== false }) : null;
          const harness0 = process.cpuUsage();
          try {
            res = await loadgen.run(job(row, kase.durationSec));
          } catch (err) {
            loadErr = err;
          }
          harness = process.cpuUsage(harness0);
          samples = sampler ? await sampler.stop() : null;
          if (row.server.child.exited) {
            problem = `during run ${r + 1}: ${died(row)}`;
            break;
          }
          if (samples && samples.failures.length) {
            problem = `wrong bytes during run ${r + 1}: ${samples.failures.join('; ')}`;
            break;
          }
        }
        if (loadErr) {
          res = null;
          if (attempt === 2) problem = `load generator failed twice during run ${r + 1}: ${loadErr.message}`;
          else progress(`${label} · ${row.name}: load generator failed (${loadErr.message}); retrying`);
        }
      }
      if (problem) {
        await fail(row, problem);
        continue;
      }
      res.harnessCpuSec = (harness.user + harness.system) / 1e6;
      const m = metrics(res, ctx.pin ? { serverCpu: ctx.serverCpu, clientCpu: ctx.clientCpu } : null);
      m.samples = samples ? { checked: samples.samples, errors: samples.errors } : null;
      row.runs.push(m);
      const main =
        kase.kind === 'bulk'
          ? `${(m.MBps / 1000).toFixed(2)} GB/s, ${m.cpuSecPerGiB === null ? '–' : m.cpuSecPerGiB.toFixed(2)} CPU-s/GiB`
          : `${Math.round(m.rps).toLocaleString('en-US')} req/s, ${m.MBps.toFixed(1)} MB/s`;
      progress(`${label} · ${row.name} · run ${r + 1}/${opts.repeats}: ${main}, ${cpuText(m)}${m.errors ? `, ${m.errors} errors` : ''}`);
    }
  }

  // Peak memory, then stop everything.
  await Promise.all(
    rows.map(async (row) => {
      if (!row.server) return;
      if (!row.server.child.exited) row.peakRssMiB = treePeakRssMiB(row.server.child.pid);
      else if (row.status === 'ok') await fail(row, died(row));
      if (row.server) {
        await procs.stop(row.server.child);
        row.server.cleanup();
        row.server = null;
      }
    }),
  );

  for (const row of rows) {
    if (row.runs.length) summarize(row);
    delete row.server;
  }
  return result;
}

module.exports = { runCase, caseLabel, limitOf, CLIENT_BOUND };
