'use strict';
// What the run was measured on: kernel, CPU, Node, versions of everything.

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const procs = require('./procs');

const ROOT = path.join(__dirname, '..');

function version(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function cpuModel() {
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    return m ? m[1].trim() : os.cpus()[0]?.model || 'unknown';
  } catch {
    return os.cpus()[0]?.model || 'unknown';
  }
}

/** Read-only git queries: the commit measured and whether the tree had changes. */
function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5000,
      }).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

function wrkVersion() {
  const bin = procs.onPath('wrk');
  if (!bin) return null;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  const m = `${r.stdout || ''}${r.stderr || ''}`.match(/wrk\s+(\S+)/);
  return m ? m[1] : 'unknown';
}

function collect() {
  const nproc = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    date: new Date().toISOString(),
    kernel: os.release(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpuModel(),
    nproc,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    sluice: { version: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version, ...gitState() },
    versions: {
      autocannon: version('autocannon'),
      express: version('express'),
      'serve-static': version('serve-static'),
      sirv: version('sirv'),
      fastify: version('fastify'),
      '@fastify/static': version('@fastify/static'),
      koa: version('koa'),
      'koa-static': version('koa-static'),
      'koa-send': version('koa-send'),
      wrk: wrkVersion(),
    },
    taskset: !!procs.TASKSET,
  };
}

module.exports = { collect };
