'use strict';
// Command line → options and the list of cases to run.

const { parseArgs } = require('node:util');
const { SIZES } = require('./fixtures');

const HELP = `Usage: npm run bench -- [options]     (node bench/run.js [options])

Starts every subject (sluice per engine, sluice inside Express, Express +
serve-static, sirv, @fastify/static, koa-static, bare Node from memory, nginx when on the
PATH, a C sendfile loop for the large file) as a child process on 127.0.0.1,
verifies the bytes each one serves, then loads them in interleaved rounds.
Prints a Markdown table; writes JSON, Markdown and an SVG chart to bench/results/.

Options:
  --full                 the whole matrix: 1k, 64k, 1m, 256m × 1, 50, 500
                         connections, plus 4m × 50 (default: a quick run of
                         1k and 64k at 50 connections and 256m on 1 connection,
                         under 3 minutes, then the HTTPS case: about 2.5
                         minutes more)
  --subjects a,b         subjects to run (names or prefixes: sluice, sluice-copy,
                         express, sirv, fastify (and fastify-sluice,
                         fastify-sendfile, fastify-sluice-sendfile), koa (and
                         koa-sluice), hono (and hono-sluice), nest (and
                         nest-sluice, nest-fastify, nest-fastify-sluice), node-mem,
                         nginx, c-sendfile, fetch-sluice (file() under
                         createServer({ fetch })), fetch-hono (@hono/node-server
                         returning a Web stream),
                         baseline-auto, baseline-no-front-door: the build of
                         sluice in the checkout $SLUICE_BENCH_BASELINE names,
                         to measure a change)
  --sizes 1k,64k,...     file sizes (${Object.keys(SIZES).join(', ')})
  --connections 1,50     connection counts (applied to every size)
  --duration S           seconds per measurement (default: 3 with --full; quick:
                         2, shortened to fit 3 minutes when there are many subjects)
  --warmup S             warm-up before the first measurement of a subject (quick: 1)
  --repeats N            measurements per case and subject (default 3)
  --loadgen NAME         autocannon (default) | wrk, for files under 1 MiB;
                         larger files use the bench stream client (autocannon
                         keeps every body as a string, wrk reads it into memory)
  --no-https             leave out the HTTPS case (h2load over HTTPS/1.1 and
                         HTTP/2 at 1k and 64k: sluice --http2, Node's own TLS
                         servers from memory, nginx with TLS; 1 s runs in a
                         quick run)
  --json PATH            also write the JSON results to PATH
  --no-pin               do not pin server and client to separate CPUs
  --list                 list the subjects and exit
  -h, --help             this help
`;

function list(value) {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function positive(name, value, { integer = false } = {}) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got '${value}'`);
  }
  return n;
}

/**
 * Files from 1 MiB are "bulk" cases (reported as GB/s and CPU per GiB), and
 * the stream client loads them: autocannon decodes and keeps every body as
 * a string (the limit at a few hundred MB/s), and wrk reads every body into
 * its own memory (4 MiB x 50 here: wrk at 0.95 of its core and about 1.8
 * GB/s, where the stream client took the same servers to 3.5 GB/s).
 * Files from 64 MiB are single-connection cases unless told otherwise.
 */
const BULK_MIN_BYTES = 1024 * 1024;
const LARGE_MIN_BYTES = 64 * 1024 * 1024;

function parse(argv) {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      full: { type: 'boolean' },
      subjects: { type: 'string' },
      sizes: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      repeats: { type: 'string' },
      loadgen: { type: 'string' },
      json: { type: 'string' },
      'no-pin': { type: 'boolean' },
      'no-https': { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const opts = {
    help: !!values.help,
    list: !!values.list,
    full: !!values.full,
    subjects: values.subjects ? list(values.subjects) : null,
    sizes: values.sizes ? list(values.sizes) : null,
    connections: values.connections ? list(values.connections).map((c) => positive('connections', c, { integer: true })) : null,
    durationSec: values.duration !== undefined ? positive('duration', values.duration) : null,
    warmupSec: values.warmup !== undefined ? Number(values.warmup) : null,
    repeats: values.repeats !== undefined ? positive('repeats', values.repeats, { integer: true }) : 3,
    loadgen: values.loadgen || 'autocannon',
    json: values.json || null,
    pin: !values['no-pin'],
    https: !values['no-https'],
  };
  if (!['autocannon', 'wrk'].includes(opts.loadgen)) throw new Error(`--loadgen: expected autocannon or wrk, got '${opts.loadgen}'`);
  if (opts.warmupSec !== null && !(opts.warmupSec >= 0)) throw new Error(`--warmup: expected a number ≥ 0, got '${values.warmup}'`);
  for (const s of opts.sizes || []) {
    if (!SIZES[s]) throw new Error(`--sizes: unknown size '${s}' (expected ${Object.keys(SIZES).join(', ')})`);
  }
  opts.durationExplicit = opts.durationSec !== null;
  if (opts.durationSec === null) opts.durationSec = opts.full ? 3 : 2;
  if (opts.warmupSec === null) opts.warmupSec = opts.full ? 2 : 1;
  return opts;
}

/** The cases: [{ id, sizeKey, size, connections, kind: 'requests'|'bulk', loadgen }]. */
function cases(opts) {
  let pairs;
  if (opts.sizes || opts.connections) {
    const sizes = opts.sizes || (opts.full ? ['1k', '64k', '1m', '256m'] : ['1k', '64k', '256m']);
    pairs = [];
    for (const s of sizes) {
      const conns = opts.connections || (opts.full ? [1, 50, 500] : [SIZES[s].bytes >= LARGE_MIN_BYTES ? 1 : 50]);
      for (const c of conns) pairs.push([s, c]);
    }
  } else if (opts.full) {
    pairs = [];
    for (const s of ['1k', '64k', '1m']) for (const c of [1, 50, 500]) pairs.push([s, c]);
    pairs.push(['4m', 50]);
    for (const c of [1, 50, 500]) pairs.push(['256m', c]);
  } else {
    pairs = [
      ['1k', 50],
      ['64k', 50],
      ['256m', 1],
    ];
  }
  return pairs.map(([sizeKey, connections]) => {
    const size = SIZES[sizeKey].bytes;
    const kind = size >= BULK_MIN_BYTES ? 'bulk' : 'requests';
    return {
      id: `${sizeKey}-c${connections}`,
      sizeKey,
      size,
      connections,
      kind,
      loadgen: kind === 'bulk' ? 'stream' : opts.loadgen,
    };
  });
}

module.exports = { HELP, parse, cases };
