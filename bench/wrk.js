'use strict';
// Drives `wrk` (when installed) for one measurement: one thread (the client
// has one CPU), keep-alive, the summary printed as JSON by wrk-report.lua.
// wrk's CPU is read from this process's cutime/cstime once it has been
// reaped, so it is exact.

const { spawn } = require('node:child_process');
const path = require('node:path');
const { selfChildrenCpuSeconds } = require('./cpu');
const { onPath } = require('./procs');

function run({ url, connections, durationSec, timeoutSec = 10 }) {
  const bin = onPath('wrk');
  if (!bin) return Promise.reject(new Error('wrk is not installed (--loadgen wrk needs it on the PATH)'));
  // wrk takes whole seconds only ("1.5s" is a usage error), so a shortened
  // warm-up or measurement is rounded up; the rate uses wrk's own elapsed time.
  const wholeSec = Math.max(1, Math.ceil(durationSec));
  const args = ['-t1', `-c${connections}`, `-d${wholeSec}s`, `--timeout`, `${timeoutSec}s`, '-s', path.join(__dirname, 'wrk-report.lua'), url];
  return new Promise((resolve, reject) => {
    const cpu0 = selfChildrenCpuSeconds();
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), (wholeSec + timeoutSec + 15) * 1000);
    child.on('error', (e) => {
      clearTimeout(killer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      const m = out.match(/WRKJSON (\{.*\})/);
      if (code !== 0 || !m) {
        reject(new Error(`wrk exited with ${code}: ${(err || out).trim().split('\n').slice(-3).join(' ')}`));
        return;
      }
      const s = JSON.parse(m[1]);
      const elapsedSec = s.duration_us / 1e6;
      resolve({
        requests: s.requests,
        bytes: s.bytes,
        elapsedSec,
        errors: s.connect + s.read + s.write + s.timeout,
        non2xx: s.status,
        timeouts: s.timeout,
        latency: { p50: s.p50_us / 1000, p99: s.p99_us / 1000, mean: s.mean_us / 1000 },
        clientCpuSec: selfChildrenCpuSeconds() - cpu0,
      });
    });
  });
}

module.exports = { run };
