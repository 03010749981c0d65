'use strict';
// CPU time and memory of a process and all its descendants, from /proc.
// CPU is utime + stime (+ cutime + cstime, so a child reaped during a
// measurement still counts) in clock ticks; peak memory is VmHWM.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** Parsed /proc/<pid>/stat, or null when the process is gone. */
function readStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    state: f[0],
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
  };
}

/** pid and every live descendant of pid. */
function tree(pid) {
  const children = new Map();
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    /* no /proc */
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (!st) continue;
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(Number(name));
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const c of children.get(out[i]) || []) out.push(c);
  }
  return out;
}

/** CPU seconds (user + system, children included) of pid's whole tree. */
function treeCpuSeconds(pid) {
  let ticks = 0;
  for (const p of tree(pid)) {
    const st = readStat(p);
    if (st) ticks += st.utime + st.stime + st.cutime + st.cstime;
  }
  return ticks / CLK_TCK;
}

/** CPU seconds this process's waited-for children used (wrk runs as one). */
function selfChildrenCpuSeconds() {
  const st = readStat('self');
  return st ? (st.cutime + st.cstime) / CLK_TCK : 0;
}

function statusKiB(pid, field) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmHWM (peak resident set) over pid's tree, in MiB. */
function treePeakRssMiB(pid) {
  let kib = 0;
  for (const p of tree(pid)) kib += statusKiB(p, 'VmHWM');
  return kib / 1024;
}

/** Sum of VmRSS (current resident set) over pid's tree, in MiB. */
function treeRssMiB(pid) {
  let kib = 0;
  for (const p of tree(pid)) kib += statusKiB(p, 'VmRSS');
  return kib / 1024;
}

/**
 * Per-CPU times from /proc/stat in seconds, indexed by CPU number:
 * { busy (everything but idle and steal), irq (irq + softirq), steal, idle }.
 * Without IRQ time accounting a softirq tick is also charged to the task it
 * interrupted, so irq overlaps the processes' own CPU time.
 */
function readCpuTimes() {
  const out = [];
  let text;
  try {
    text = fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = line.match(/^cpu(\d+)\s+(.*)$/);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice
    const f = m[2].trim().split(/\s+/).map(Number);
    const idle = f[3] + (f[4] || 0);
    const steal = f[7] || 0;
    const total = f.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
    out[Number(m[1])] = {
      busy: (total - idle - steal) / CLK_TCK,
      irq: ((f[5] || 0) + (f[6] || 0)) / CLK_TCK,
      steal: steal / CLK_TCK,
      idle: idle / CLK_TCK,
    };
  }
  return out;
}

/** What each CPU did (in cores) between two readCpuTimes(). */
function cpuLoad(before, after, seconds) {
  return after.map((a, i) => {
    const b = before[i];
    if (!a || !b || !(seconds > 0)) return null;
    const d = (k) => (a[k] - b[k]) / seconds;
    return { busy: d('busy'), irq: d('irq'), steal: d('steal'), idle: d('idle') };
  });
}

/** pid of each CPU's ksoftirqd thread (softirq work deferred from that CPU). */
function ksoftirqdPids() {
  const pids = [];
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    /* none */
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let comm;
    try {
      comm = fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const m = comm.match(/^ksoftirqd\/(\d+)$/);
    if (m) pids[Number(m[1])] = Number(name);
  }
  return pids;
}

/** CPU seconds of each ksoftirqd thread, indexed by CPU. */
function ksoftirqdSeconds(pids) {
  return pids.map((pid) => {
    const st = pid ? readStat(pid) : null;
    return st ? (st.utime + st.stime) / CLK_TCK : 0;
  });
}

module.exports = {
  CLK_TCK,
  readCpuTimes,
  cpuLoad,
  ksoftirqdPids,
  ksoftirqdSeconds,
  readStat,
  tree,
  treeCpuSeconds,
  selfChildrenCpuSeconds,
  treePeakRssMiB,
  treeRssMiB,
};
