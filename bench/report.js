'use strict';
// Results → a Markdown report (stdout) and files in bench/results/:
// <stamp>.json, <stamp>.md, <stamp>.svg, plus latest.{json,md,svg}.

const fs = require('node:fs');
const path = require('node:path');
const { chart } = require('./chart');

/** Ratio columns, in order: what each row is compared with. */
const RATIO_ORDER = ['copy', 'express', 'sirv', 'fastify', 'fastify sendFile', 'koa', 'node-mem', 'nginx', 'C', 'C epoll'];

const int = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
function num(n, digits = 2) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 100) return int(n);
  return n.toFixed(Math.abs(n) >= 10 ? Math.max(0, digits - 1) : digits);
}
/** Latency in ms; autocannon records whole milliseconds, so 0 means under 1 ms. */
const ms = (v) => (v === null || v === undefined ? '–' : v === 0 ? '<1' : num(v, 1));
const spread = (s, f) => (s.median === null ? '–' : s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median));
const ratio = (a, b) => (a === null || b === null || !(b > 0) ? '–' : `${(a / b).toFixed(2)}×`);
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function refsOf(kase) {
  const refs = new Map();
  for (const row of kase.rows) {
    if (row.status === 'ok' && row.summary && row.subject.ratio) refs.set(row.subject.ratio, row);
  }
  return RATIO_ORDER.filter((k) => refs.has(k)).map((k) => [k, refs.get(k)]);
}

function notes(row) {
  const out = [...row.notes];
  if (row.clientBound) out.unshift('**client-bound**');
  if (row.group === 'ceiling') out.push('ceiling');
  if (row.group === 'ref') out.push('reference');
  return out.join('; ');
}

/** Header and alignment lines of a Markdown table (first and last columns left-aligned). */
function tableHead(head) {
  return [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 || i === head.length - 1 ? '---' : '---:')).join('|')}|`];
}

/** The row of a subject that was skipped or failed: empty cells, the reason in notes. */
function unmeasuredRow(row, head) {
  const what = row.status === 'skipped' ? `skipped: ${row.reason}` : `**FAILED**: ${row.reason}`;
  return `| ${row.name} | ${head
    .slice(1, -1)
    .map(() => '')
    .join(' | ')} | ${cell(what)} |`;
}

function requestsTable(kase) {
  const refs = refsOf(kase);
  const head = [
    'subject',
    'req/s (min–max)',
    'MB/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'CPU-s/GiB',
    'CPU µs/req',
    'server cores',
    'peak RSS MiB',
    'client cores',
    ...refs.map(([k]) => `×${k}`),
    'notes',
  ];
  const lines = tableHead(head);
  for (const row of kase.rows) {
    if (row.status !== 'ok' || !row.summary) {
      lines.push(unmeasuredRow(row, head));
      continue;
    }
    const s = row.summary;
    lines.push(
      `| ${[
        row.name,
        spread(s.rps, int),
        num(s.MBps.median, 1),
        ms(s.p50.median),
        ms(s.p99.median),
        int(s.errors),
        num(s.cpuSecPerGiB.median),
        num(s.cpuUsPerReq.median, 1),
        num(s.serverCores.median),
        num(row.peakRssMiB, 0),
        num(s.clientCores.median),
        ...refs.map(([, ref]) => (ref === row ? '1.00×' : ratio(s.rps.median, ref.summary.rps.median))),
        cell(notes(row)),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function bulkTable(kase) {
  const refs = refsOf(kase);
  const gbRefs = refs.filter(([k]) => ['copy', 'nginx', 'C', 'C epoll'].includes(k));
  const head = [
    'subject',
    'GB/s (min–max)',
    'req/s',
    'CPU-s/GiB (min–max)',
    'p50 ms',
    'p99 ms',
    'errors',
    'server cores',
    'peak RSS MiB',
    'client cores',
    ...gbRefs.map(([k]) => `GB/s ×${k}`),
    ...refs.map(([k]) => `CPU ×${k}`),
    'notes',
  ];
  const lines = tableHead(head);
  const gb = (v) => (v === null ? '–' : (v / 1000).toFixed(2));
  for (const row of kase.rows) {
    if (row.status !== 'ok' || !row.summary) {
      lines.push(unmeasuredRow(row, head));
      continue;
    }
    const s = row.summary;
    lines.push(
      `| ${[
        row.name,
        spread(s.MBps, gb),
        num(s.rps.median, 1),
        spread(s.cpuSecPerGiB, (v) => v.toFixed(2)),
        ms(s.p50.median),
        ms(s.p99.median),
        int(s.errors),
        num(s.serverCores.median),
        num(row.peakRssMiB, 0),
        num(s.clientCores.median),
        ...gbRefs.map(([, ref]) => (ref === row ? '1.00×' : ratio(s.MBps.median, ref.summary.MBps.median))),
        ...refs.map(([, ref]) => (ref === row ? '1.00×' : ratio(s.cpuSecPerGiB.median, ref.summary.cpuSecPerGiB.median))),
        cell(notes(row)),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function header(results) {
  const { env, options } = results;
  const v = env.versions;
  const git = env.sluice.commit ? ` @ ${env.sluice.commit}${env.sluice.dirty ? ' (with uncommitted changes)' : ''}` : '';
  const pin = results.pinning.enabled
    ? `Server pinned to CPU ${results.pinning.serverCpu}, load generator (and harness) to CPU ${results.pinning.clientCpu} with taskset.`
    : `Not pinned (${results.pinning.reason}).`;
  const loadgens = [...new Set(results.cases.map((k) => k.loadgen))].map((l) =>
    l === 'autocannon'
      ? `autocannon ${v.autocannon} (keep-alive, pipelining 1)`
      : l === 'wrk'
        ? `wrk ${v.wrk} (1 thread, keep-alive)`
        : 'the bench stream client (keep-alive, bodies discarded) for files from 1 MiB',
  );
  const nginx = results.nginx.skip ? `nginx: ${results.nginx.skip}` : `nginx ${results.nginx.version}`;
  const cref = results.cref.skip ? `C sendfile loop: ${results.cref.skip}` : 'C sendfile loop (bench/ref, cc -O2)';
  // Results written before the epoll reference have no crefEpoll.
  const epoll = results.crefEpoll || { skip: 'not measured' };
  const crefEpoll = epoll.skip ? `C epoll server: ${epoll.skip}` : 'C epoll server from memory (bench/ref, cc -O2)';
  const lines = [
    `## sluice benchmark (${options.full ? 'full' : 'quick'}) — ${env.date.replace(/\.\d+Z$/, 'Z')}`,
    '',
    `${env.os} · ${env.cpuModel} × ${env.nproc} CPUs · ${env.memoryGiB} GiB · node ${env.node} · sluice ${env.sluice.version}${git} · load average at start ${env.loadavg[0]}`,
    '',
    `${pin} Every case starts fresh servers, verifies each one (sha256 of the whole file and a byte range; a wrong answer is FAILED and never measured), then runs ${options.repeats} interleaved round${options.repeats > 1 ? 's' : ''}; every measurement follows a warm-up and is sampled (responses fetched and compared during the load). Figures are medians (min–max over the rounds). Total time ${Math.round(results.elapsedSec)} s.`,
    '',
    `Load: ${loadgens.join('; ')}. Peers: express ${v.express} + serve-static ${v['serve-static']}, sirv ${v.sirv}, fastify ${v.fastify} + @fastify/static ${v['@fastify/static']}, koa ${v.koa} + koa-static ${v['koa-static']} (koa-send ${v['koa-send']}), ${nginx}; ${cref}; ${crefEpoll}.`,
  ];
  if (results.noise) {
    lines.push(
      '',
      `Noise: other processes used a median ${results.noise.medianOtherOnServerCpu.toFixed(2)} (max ${results.noise.maxOtherOnServerCpu.toFixed(2)}) of the server's CPU during the measurements (from /proc/stat; see *noisy* in the notes).`,
    );
  }
  const skipped = Object.entries(results.skipped);
  if (skipped.length) lines.push('', `Skipped: ${skipped.map(([k, why]) => `${k} (${why})`).join('; ')}.`);
  return lines.join('\n');
}

const FOOTNOTES = `CPU-s/GiB: server CPU seconds (user + system of the server process tree, /proc/<pid>/stat) per GiB of response bytes received (headers included). Server/client cores: CPU seconds per second of the measurement. ×X: this row's req/s ÷ X's (higher is better); in the tables for files from 1 MiB, GB/s ×X compares throughput (higher is better) and CPU ×X is this row's CPU-s/GiB ÷ X's (lower is better). Latencies: autocannon's are whole milliseconds; the stream client's are per download. **client-bound**: the load generator used ≥ 90% of its core, or its CPU had no idle time left (other work on a shared machine) while the server's CPU did: the figure is the client's limit, not the server's (use --loadgen wrk, or a quieter machine). *noisy*: other processes used that much of the server's pinned CPU during the runs. *neither CPU saturated*: both CPUs had idle time, so the server was waiting, not computing. Loopback is not a NIC: the receiver's TCP work is charged to the machine, and for one stream copying costs about what sendfile does; zero-copy shows in server CPU per GiB, many connections and RSS.`;

function markdown(results) {
  const parts = [header(results)];
  for (const kase of results.cases) {
    const how = kase.loadgen === 'stream' ? 'stream client' : kase.loadgen;
    parts.push(`### ${kase.label} — ${how}, ${kase.durationSec} s × ${kase.repeats}, warm-up ${kase.warmupSec} s`);
    parts.push(kase.kind === 'bulk' ? bulkTable(kase) : requestsTable(kase));
  }
  parts.push(FOOTNOTES);
  if (results.targets && results.targets.length) {
    parts.push('### Targets');
    const mark = (t) => (t.pass === null ? '❔' : t.pass ? '✅' : '❌');
    const groups = new Map();
    for (const t of results.targets) {
      if (!groups.has(t.group)) groups.set(t.group, []);
      groups.get(t.group).push(`${mark(t)} ${t.text}`);
    }
    const noise =
      results.noise && results.noise.maxOtherOnServerCpu >= 0.1
        ? `\n\nOther processes used up to ${results.noise.maxOtherOnServerCpu.toFixed(2)} of the server's CPU (median ${results.noise.medianOtherOnServerCpu.toFixed(2)}) during this run: the ratios are indicative.`
        : '';
    parts.push(`${[...groups].map(([g, items]) => `- ${g} — ${items.join(' · ')}`).join('\n')}\n\n✅ met · ❌ missed · ❔ undecided (client-bound)${noise}`);
  }
  return `${parts.join('\n\n')}\n`;
}

/** Plain data for JSON: no functions, no child processes. */
function toJSON(results) {
  return {
    ...results,
    cases: results.cases.map((k) => ({
      ...k,
      // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the live server handle is dropped from the saved JSON
      rows: k.rows.map(({ subject, server, ...row }) => ({ ...row, ratioKey: subject.ratio || null })),
    })),
  };
}

/** Writes JSON, Markdown and SVG; returns the paths written. */
function write(results, md, { dir, jsonPath }) {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = results.env.date.replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
  const json = `${JSON.stringify(toJSON(results), null, 2)}\n`;
  const svg = chart(results);
  const written = [];
  for (const base of [stamp, 'latest']) {
    for (const [ext, text] of [
      ['json', json],
      ['md', md],
      ['svg', svg],
    ]) {
      const file = path.join(dir, `${base}.${ext}`);
      fs.writeFileSync(file, text);
      if (base !== 'latest') written.push(file);
    }
  }
  if (jsonPath) {
    fs.mkdirSync(path.dirname(path.resolve(jsonPath)), { recursive: true });
    fs.writeFileSync(jsonPath, json);
    written.push(path.resolve(jsonPath));
  }
  return written;
}

module.exports = { markdown, write, toJSON };
