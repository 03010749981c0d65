'use strict';
// Child processes: spawn (optionally pinned to a CPU), wait for a ready line,
// stop, and make sure none outlives the harness. Every child is its own
// process group leader so its own children (nginx workers) die with it, and
// runs under `setpriv --pdeathsig KILL` when available so even a SIGKILLed
// harness leaves no orphan behind.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const live = new Set();

function onPath(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return null;
}

const TASKSET = onPath('taskset');
const SETPRIV = (() => {
  const bin = onPath('setpriv');
  if (!bin) return null;
  try {
    execFileSync(bin, ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore', timeout: 2000 });
    return bin;
  } catch {
    return null;
  }
})();

/** Pins the calling process (all its threads) to `cpu`. */
function pinSelf(cpu) {
  execFileSync(TASKSET, ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore', timeout: 5000 });
}

/**
 * Spawns `cmd args` in its own process group; with `cpu` (a number) under
 * `taskset -c cpu`. Keeps the last 8 KiB of stderr (and stdout) for reports.
 */
function start(cmd, args, { cpu = null, env, cwd, ipc = false, name = cmd } = {}) {
  const argv = [cmd, ...args];
  if (cpu !== null && TASKSET) argv.unshift(TASKSET, '-c', String(cpu));
  if (SETPRIV) argv.unshift(SETPRIV, '--pdeathsig', 'KILL');
  const stdio = ['ignore', 'pipe', 'pipe'];
  if (ipc) stdio.push('ipc');
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: env ? { ...process.env, ...env } : process.env,
    stdio,
    detached: true,
  });
  child.benchName = name;
  child.stdoutText = '';
  child.stderrTail = '';
  child.exited = null;
  live.add(child);
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (s) => {
    child.stdoutText = (child.stdoutText + s).slice(-8192);
  });
  child.stderr.on('data', (s) => {
    child.stderrTail = (child.stderrTail + s).slice(-8192);
  });
  child.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      child.exited = { code, signal };
      live.delete(child);
      resolve(child.exited);
    });
    child.on('error', (err) => {
      child.exited = { code: null, signal: null, error: err.message };
      live.delete(child);
      resolve(child.exited);
    });
  });
  return child;
}

function describeExit(child) {
  const e = child.exited;
  if (!e) return 'running';
  if (e.error) return `could not start: ${e.error}`;
  return e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
}

function tail(text, lines = 6) {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Resolves with the regex match of the first stdout line that matches, or
 * rejects (with the exit status and stderr) if the child exits or times out.
 */
function waitForLine(child, regex, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const done = (fn, value) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      fn(value);
    };
    const onData = (s) => {
      buffered += s;
      const m = buffered.match(regex);
      if (m) done(resolve, m);
    };
    const onExit = () =>
      setImmediate(() => {
        const why = tail(child.stderrTail) || tail(child.stdoutText) || '(no output)';
        done(reject, Object.assign(new Error(`${describeExit(child)}: ${why}`), { exitedEarly: true }));
      });
    const timer = setTimeout(() => done(reject, new Error(`no ready line within ${timeoutMs} ms; stderr: ${tail(child.stderrTail) || '(none)'}`)), timeoutMs);
    child.stdout.on('data', onData);
    child.on('exit', onExit);
    if (child.exited) onExit();
    onData('');
  });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

/** SIGTERM the child's group, SIGKILL after `graceMs`; resolves when it exited. */
async function stop(child, graceMs = 1500) {
  if (!child || child.exited) return;
  killGroup(child, 'SIGTERM');
  let timer;
  const killed = new Promise((resolve) => {
    timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([child.exitPromise, killed]);
  clearTimeout(timer);
  let timer2;
  await Promise.race([
    child.exitPromise,
    new Promise((r) => {
      timer2 = setTimeout(r, 1000);
    }),
  ]);
  clearTimeout(timer2);
}

/** Synchronous last resort: SIGKILL every group still alive. */
function killAll() {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}

let cleanups = [];
/** Runs `fn` (synchronously) on exit, SIGINT, SIGTERM and uncaught errors. */
function onExit(fn) {
  cleanups.push(fn);
}

function runCleanups() {
  killAll();
  const fns = cleanups;
  cleanups = [];
  for (const fn of fns) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
}

function installExitHandlers() {
  process.on('exit', runCleanups);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping all servers\n`);
      runCleanups();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err && err.stack ? err.stack : err}\n`);
    runCleanups();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err && err.stack ? err.stack : err}\n`);
    runCleanups();
    process.exit(1);
  });
}

module.exports = {
  TASKSET,
  SETPRIV,
  onPath,
  pinSelf,
  start,
  stop,
  waitForLine,
  describeExit,
  tail,
  killAll,
  onExit,
  installExitHandlers,
};
