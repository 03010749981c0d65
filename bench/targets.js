'use strict';
// The performance targets sluice holds itself to (README, Engines), checked
// against this run's figures. Each check is { group, text, pass } with pass
// null when it cannot be decided (the load generator was the limit); a check
// whose other side is missing is left out.

const SMALL = new Set(['1k', '64k']);

function rowsOf(kase) {
  const ok = kase.rows.filter((r) => r.status === 'ok' && r.summary);
  return {
    byName: new Map(ok.map((r) => [r.name, r])),
    zeroCopy: ok.filter((r) => r.group === 'sluice' && r.subject.engine && r.subject.engine !== 'copy'),
  };
}

const x = (a, b) => a / b;

/** "a ≥ k × b" on metric, higher is better. */
function atLeast(out, kase, row, ref, k, metric, what) {
  if (!ref) return;
  const a = row.summary[metric].median;
  const b = ref.summary[metric].median;
  if (!(a > 0) || !(b > 0)) return;
  const r = x(a, b);
  let pass = r >= k;
  // A client-bound peer may be faster than measured; a client-bound subject
  // that misses may be faster too.
  const inconclusive = (pass && ref.clientBound) || (!pass && row.clientBound);
  const cb = [row, ref].filter((z) => z.clientBound).map((z) => z.name);
  if (inconclusive) pass = null;
  out.push({
    group: `${kase.label}: ${row.name}`,
    pass,
    text: `${r.toFixed(2)}× ${ref.name} ${what} (≥ ${k}×)${cb.length ? ` [client-bound: ${cb.join(', ')}]` : ''}`,
  });
}

/** "a ≤ k × b" on metric, lower is better. */
function atMost(out, kase, row, ref, k, metric, what) {
  if (!ref) return;
  const a = row.summary[metric].median;
  const b = ref.summary[metric].median;
  if (!(a > 0) || !(b > 0)) return;
  const r = x(a, b);
  out.push({ group: `${kase.label}: ${row.name}`, pass: r <= k, text: `${r.toFixed(2)}× ${ref.name} ${what} (≤ ${k}×)` });
}

function check(results) {
  const out = [];
  for (const kase of results.cases) {
    const { byName, zeroCopy } = rowsOf(kase);
    if (kase.kind === 'requests' && SMALL.has(kase.sizeKey)) {
      for (const row of zeroCopy) {
        atLeast(out, kase, row, byName.get('express'), 3, 'rps', 'req/s');
        for (const peer of ['sirv', 'fastify']) atLeast(out, kase, row, byName.get(peer), 1.1, 'rps', 'req/s');
        atLeast(out, kase, row, byName.get('node-mem'), 0.85, 'rps', 'req/s');
      }
      const mw = byName.get('sluice-express');
      if (mw) atLeast(out, kase, mw, byName.get('express'), 1.5, 'rps', 'req/s');
    }
    if (kase.kind === 'bulk' && kase.connections === 1 && kase.size >= 64 * 2 ** 20) {
      for (const row of zeroCopy) {
        atMost(out, kase, row, byName.get('c-sendfile'), 1.15, 'cpuSecPerGiB', 'CPU-s/GiB');
        atLeast(out, kase, row, byName.get('c-sendfile'), 0.9, 'MBps', 'GB/s');
        atMost(out, kase, row, byName.get('sluice-copy'), 0.5, 'cpuSecPerGiB', 'CPU-s/GiB');
      }
    }
    // sluice/fastify against @fastify/static in the same Fastify app.
    if (kase.kind === 'requests' && kase.sizeKey === '64k' && kase.connections >= 50) {
      const row = byName.get('fastify-sluice');
      if (row) atLeast(out, kase, row, byName.get('fastify'), 3, 'rps', 'req/s');
    }
    if (kase.kind === 'requests' && kase.sizeKey === '1k') {
      const row = byName.get('fastify-sluice-sendfile');
      if (row) atLeast(out, kase, row, byName.get('fastify-sendfile'), 2, 'rps', 'req/s');
    }
    // sluice/hono against @hono/node-server's serveStatic in the same Hono app.
    if (kase.kind === 'requests' && kase.sizeKey === '64k' && kase.connections >= 50) {
      const row = byName.get('hono-sluice');
      if (row) atLeast(out, kase, row, byName.get('hono'), 3, 'rps', 'req/s');
    }
    if (kase.kind === 'bulk' && (kase.sizeKey === '1m' || kase.sizeKey === '256m')) {
      const row = byName.get('hono-sluice');
      if (row) atMost(out, kase, row, byName.get('hono'), 0.2, 'cpuSecPerGiB', 'CPU-s/GiB');
    }
    if (kase.kind === 'bulk' && (kase.sizeKey === '1m' || kase.sizeKey === '256m')) {
      const row = byName.get('fastify-sluice');
      if (row) atMost(out, kase, row, byName.get('fastify'), 0.2, 'cpuSecPerGiB', 'CPU-s/GiB');
    }
    if (kase.sizeKey === '4m' && kase.connections >= 50) {
      for (const row of zeroCopy) atLeast(out, kase, row, byName.get('nginx'), 1, 'MBps', 'MB/s');
    }
    if (kase.sizeKey === '256m' && kase.connections >= 500) {
      for (const row of zeroCopy) {
        if (row.peakRssMiB) {
          out.push({ group: `${kase.label}: ${row.name}`, pass: row.peakRssMiB < 100, text: `peak RSS ${Math.round(row.peakRssMiB)} MiB (< 100 MiB)` });
        }
      }
    }
  }
  return out;
}

module.exports = { check };
