'use strict';
// The load generator process, started by bench/load.js (pinned to the client
// CPU). Receives one job at a time over IPC, runs it with autocannon, wrk or
// the stream client, and reports the numbers together with its own CPU time
// and the server's (read from /proc right before and right after the load,
// so the window is exactly the measurement).

const autocannon = require('autocannon');
const { treeCpuSeconds, readCpuTimes, cpuLoad, ksoftirqdPids, ksoftirqdSeconds } = require('./cpu');

const KSOFTIRQD = ksoftirqdPids();
const streamClient = require('./stream-client');
const wrk = require('./wrk');

function cpuSec() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function runAutocannon(job) {
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSec,
    pipelining: 1,
    timeout: job.timeoutSec,
    sampleInt: 100, // stop within 100 ms of the duration (default: 1 s)
  });
  const elapsedSec = result.duration > 0 ? result.duration : job.durationSec;
  return {
    requests: result.requests.total,
    bytes: result.throughput.total,
    elapsedSec,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    resets: result.resets,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats || {}).map(([k, v]) => [k, v.count])),
    latency: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.average },
  };
}

async function runStream(job) {
  const u = new URL(job.url);
  const r = await streamClient.run({
    host: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    connections: job.connections,
    durationSec: job.durationSec,
    size: job.size,
  });
  return { ...r, non2xx: 0, timeouts: 0 };
}

async function runJob(job) {
  const pid = job.serverPid;
  const srv0 = treeCpuSeconds(pid);
  const cpus0 = readCpuTimes();
  const ksoft0 = ksoftirqdSeconds(KSOFTIRQD);
  const cpu0 = cpuSec();
  const t0 = process.hrtime.bigint();
  let result;
  if (job.loadgen === 'stream') result = await runStream(job);
  else if (job.loadgen === 'wrk') result = await wrk.run(job);
  else result = await runAutocannon(job);
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const clientCpuSec = cpuSec() - cpu0 + (result.clientCpuSec || 0);
  const serverCpuSec = treeCpuSeconds(pid) - srv0;
  // How busy each CPU was, whoever used it: on a shared machine, what the
  // server's CPU did besides serving is the noise in this measurement.
  const cpus = cpuLoad(cpus0, readCpuTimes(), wallSec);
  const ksoft = ksoftirqdSeconds(KSOFTIRQD);
  cpus.forEach((c, i) => {
    if (c) c.ksoftirqd = ((ksoft[i] || 0) - (ksoft0[i] || 0)) / wallSec;
  });
  return { ...result, wallSec, clientCpuSec, serverCpuSec, cpus };
}

process.on('message', async (msg) => {
  if (!msg || msg.type !== 'job') return;
  try {
    const result = await runJob(msg.job);
    process.send({ type: 'result', id: msg.id, result });
  } catch (err) {
    process.send({ type: 'result', id: msg.id, error: err.message });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', pid: process.pid });
