'use strict';
// The HTTPS case of `npm run bench`: h2load (HTTP/1.1, and HTTP/2 with 10
// streams a connection) over 50 kept-alive TLS connections against sluice
// --http2, Node's own TLS ceiling (bare https and http2 servers answering the
// same bytes from memory; for HTTP/2 also on the core API) and nginx with
// TLS, at 1 KiB and 64 KiB, in interleaved rounds, with the pieces
// bench/tls.js uses (bench/tls-lib.js).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const procs = require('./procs');
const tls = require('./tls-lib');

const SIZES = ['1k', '64k'];

/** Who is measured, and over which protocols (the ceilings only where they are the ceiling). */
function picks() {
  const list = [
    { name: 'sluice --http2', protocols: ['h1', 'h2'] },
    { name: tls.CEILING.h1, protocols: ['h1'] },
    { name: tls.CEILING.h2, protocols: ['h2'] },
    { name: 'node http2 core API (memory)', protocols: ['h2'] },
    { name: 'nginx', protocols: ['h1', 'h2'] },
  ];
  if (process.env.SLUICE_BENCH_BASELINE) list.splice(1, 0, { name: 'sluice --http2, baseline build', protocols: ['h1', 'h2'] });
  return list;
}

/** Seconds the case takes, roughly. */
function estimate({ rounds, durationSec, warmupSec }, nginxFound) {
  const runs = picks()
    .filter((p) => p.name !== 'nginx' || !nginxFound.skip)
    .reduce((n, p) => n + p.protocols.length * SIZES.length, 0);
  return rounds * (runs * (durationSec + warmupSec + 0.6) + picks().length * 1.5);
}

/** Why the case cannot run here ('' when it can). */
function unavailable() {
  for (const cmd of ['h2load', 'openssl']) if (!procs.onPath(cmd)) return `${cmd} is not installed`;
  return '';
}

/** Plain data for the JSON results: { 'h1 1k': { subject: [runs] } }. */
function plain(results) {
  return Object.fromEntries([...results].map(([key, runs]) => [key, Object.fromEntries(runs)]));
}

/**
 * Runs the case; resolves { markdown, results } or { skip }.
 * opts: { rounds, durationSec, warmupSec, serverCpu, clientCpu, progress, nginxFound }.
 */
async function runHttpsCase(opts) {
  const why = unavailable();
  if (why) return { skip: why };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-https-'));
  procs.onExit(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'www');
  fs.mkdirSync(root);
  tls.fixtures(root);
  const list = tls.subjects(root, tls.makeCert(dir, 'ec'), opts.nginxFound, picks());
  const results = await tls.throughput(list, {
    rounds: opts.rounds,
    duration: opts.durationSec,
    warmup: opts.warmupSec,
    sizes: SIZES,
    protocols: ['h1', 'h2'],
    serverCpu: opts.serverCpu,
    clientCpu: opts.clientCpu,
    progress: (msg) => opts.progress(`https: ${msg}`),
  });
  fs.rmSync(dir, { recursive: true, force: true });
  const head = [
    '',
    '## HTTPS: sluice against Node’s own TLS ceiling and nginx',
    '',
    `h2load -c 50 -D ${opts.durationSec} (HTTP/2: -m 10 streams a connection) after a ${opts.warmupSec} s warm-up, ECDSA P-256 certificate, TLS 1.3, OpenSSL ${process.versions.openssl}; ${opts.rounds} interleaved rounds, medians (each round's req/s in brackets: the spread is the noise). The ceilings answer from memory with one res.end(body) (\`bench/servers/node-tls-memory.js\`; \`--core\`: stream.respond + stream.end).`,
  ];
  return { markdown: `${head.join('\n')}\n${tls.throughputReport(results, '###')}\n`, results: plain(results) };
}

module.exports = { runHttpsCase, estimate, SIZES };
