'use strict';
// Harness side of the load generator: starts bench/load-worker.js as its own
// process (under `taskset -c <client cpu>` when pinning, so autocannon never
// shares a core with the server) and runs jobs on it, one at a time, each
// with a hard time limit.

const path = require('node:path');
const procs = require('./procs');

class LoadGenerator {
  constructor(cpu) {
    this.cpu = cpu;
    this.child = null;
    this.nextId = 1;
    this.pending = new Map();
  }

  /** Starts (or restarts) the worker process. */
  async start() {
    const child = procs.start(process.execPath, [path.join(__dirname, 'load-worker.js')], {
      cpu: this.cpu,
      ipc: true,
      name: 'load-worker',
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('load generator did not start within 15 s')), 15000);
      child.once('message', (msg) => {
        clearTimeout(timer);
        if (msg && msg.type === 'ready') resolve();
        else reject(new Error('unexpected message from the load generator'));
      });
      child.exitPromise.then(() => {
        clearTimeout(timer);
        reject(new Error(`load generator ${procs.describeExit(child)}: ${procs.tail(child.stderrTail)}`));
      });
    });
    child.on('message', (msg) => {
      if (msg && msg.type === 'result' && this.pending.has(msg.id)) {
        const { resolve, reject, timer } = this.pending.get(msg.id);
        clearTimeout(timer);
        this.pending.delete(msg.id);
        if (msg.error) reject(new Error(msg.error));
        else resolve(msg.result);
      }
    });
    child.exitPromise.then(() => {
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error(`load generator ${procs.describeExit(child)}: ${procs.tail(child.stderrTail)}`));
      }
      this.pending.clear();
    });
    this.child = child;
  }

  /**
   * Runs one measurement. job: { loadgen: 'autocannon'|'wrk'|'stream', url,
   * connections, durationSec, timeoutSec, size, serverPid }. A worker that
   * died is restarted first; one that overruns its time limit is killed.
   */
  async run(job) {
    if (!this.child || this.child.exited) await this.start();
    const child = this.child;
    const id = this.nextId++;
    const limitMs = (job.durationSec + job.timeoutSec + 20) * 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load generator gave no result within ${limitMs / 1000} s (killed)`));
        procs.stop(child, 500);
      }, limitMs);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ type: 'job', id, job });
    });
  }

  async close() {
    if (!this.child) return;
    try {
      this.child.disconnect();
    } catch {
      /* gone */
    }
    await procs.stop(this.child, 2000);
  }
}

/** Starts the load worker (pinned to `cpu` when not null). */
async function startLoadGenerator(cpu) {
  const lg = new LoadGenerator(cpu);
  await lg.start();
  return lg;
}

module.exports = { startLoadGenerator };
