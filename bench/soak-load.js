'use strict';
// The soak's load (bench/soak.js): lanes, each one connection at a time,
// that request a weighted mix of operations and verify every byte that
// comes back against the site's own copy. Plain requests go through undici
// (kept-alive connections); clients that abort or stop reading use raw
// sockets, so that what the server does to their connection is all that
// happens to it.

const net = require('node:net');
const zlib = require('node:zlib');
const { Client } = require('undici');
const { KiB, MiB } = require('./soak-files');

/** The counts of a window: requests by operation, bytes verified, and every kind of failure. */
class Tally {
  constructor() {
    this.requests = Object.create(null);
    this.bytes = 0;
    this.wrongBytes = 0;
    this.wrongBodies = 0;
    this.aborted = 0;
    this.cutOff = 0;
    this.errors = new Map();
    /** When each failure happened (ms since the tally began), for reading them beside the server's events. */
    this.errorTimes = [];
    this.started = Date.now();
  }

  done(op, bytes) {
    this.requests[op] = (this.requests[op] ?? 0) + 1;
    this.bytes += bytes;
  }

  error(op, message) {
    const key = `${op}: ${message}`.slice(0, 160);
    this.errorTimes.push([Date.now() - this.started, key]);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  wrong(op, count) {
    this.wrongBytes += count;
    this.wrongBodies++;
    this.error(op, `${count} wrong bytes`);
  }

  total() {
    return Object.values(this.requests).reduce((a, b) => a + b, 0);
  }

  errorCount() {
    return [...this.errors.values()].reduce((a, b) => a + b, 0);
  }
}

/** How many bytes of `got` differ from `want` (a missing or extra byte counts as one). */
function differing(got, want) {
  let n = Math.abs(got.length - want.length);
  const len = Math.min(got.length, want.length);
  for (let i = 0; i < len; i++) if (got[i] !== want[i]) n++;
  return n;
}

/**
 * Compares a body as it arrives with each candidate it may be (one, or
 * each version of a replaced file): resolves with the bytes that differ
 * from the closest candidate, 0 when it is one of them in full.
 */
async function streamCompare(body, candidates) {
  const diff = candidates.map(() => 0);
  let offset = 0;
  for await (const chunk of body) {
    candidates.forEach((want, i) => {
      const slice = want.subarray(offset, offset + chunk.length);
      if (!slice.equals(chunk)) diff[i] += differing(chunk, slice);
    });
    offset += chunk.length;
  }
  return Math.min(...candidates.map((want, i) => diff[i] + Math.max(0, want.length - offset)));
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const between = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** `n` sorted ranges of `size`, one in each nth of it, with a byte or more between them (so none is merged). */
function separateRanges(size, n, maxLength) {
  const segment = Math.floor(size / n);
  return Array.from({ length: n }, (_, k) => {
    const last = (k + 1) * segment - 2;
    const start = between(k * segment, last);
    return [start, Math.min(last, start + between(0, maxLength - 1))];
  });
}

/** The parts of a multipart/byteranges body: [start, end, bytes] each. */
function multipartParts(body, boundary) {
  const parts = [];
  const open = Buffer.from(`--${boundary}\r\n`);
  let at = body.indexOf(open);
  while (at !== -1) {
    const headEnd = body.indexOf('\r\n\r\n', at);
    if (headEnd === -1) throw new Error('a multipart part without the end of its head');
    const m = /content-range: bytes (\d+)-(\d+)\//i.exec(body.subarray(at, headEnd).toString('latin1'));
    if (!m) throw new Error('a multipart part without Content-Range');
    const start = Number(m[1]);
    const end = Number(m[2]);
    const from = headEnd + 4;
    parts.push([start, end, body.subarray(from, from + end - start + 1)]);
    at = body.indexOf(open, from + end - start + 1);
  }
  if (!body.includes(`--${boundary}--`)) throw new Error('a multipart body without its closing boundary');
  return parts;
}

function expectStatus(res, status) {
  if (res.statusCode !== status) throw new Error(`status ${res.statusCode}, not ${status}`);
}

/** The operations on a kept-alive undici client; each resolves with the body bytes it verified. */
const CLIENT_OPS = {
  async small(lane) {
    return getWhole(lane, pick(lane.site.pathsUpTo(64 * KiB)));
  },
  async medium(lane) {
    return getWhole(lane, pick(lane.site.pathsUpTo(MiB).filter((p) => lane.site.files.get(p).length === MiB)));
  },
  async large(lane) {
    return getWhole(lane, pick(lane.site.pathsOver(MiB)));
  },
  async head(lane) {
    const p = pick(lane.site.pathsUpTo(64 * MiB));
    const res = await lane.client.request({ method: 'HEAD', path: p });
    await res.body.dump();
    expectStatus(res, 200);
    if (Number(res.headers['content-length']) !== lane.site.files.get(p).length) throw new Error('HEAD Content-Length');
    return 0;
  },
  async range(lane) {
    const p = pick(lane.site.pathsUpTo(64 * MiB));
    const want = lane.site.files.get(p);
    const start = between(0, want.length - 1);
    const end = Math.min(want.length - 1, start + between(0, 2 * MiB));
    const res = await lane.client.request({ method: 'GET', path: p, headers: { range: `bytes=${start}-${end}` } });
    expectStatus(res, 206);
    if (res.headers['content-range'] !== `bytes ${start}-${end}/${want.length}`) throw new Error(`Content-Range ${res.headers['content-range']}`);
    return lane.check('range', await streamCompare(res.body, [want.subarray(start, end + 1)]), end - start + 1);
  },
  async multipart(lane) {
    const p = pick(lane.site.pathsOver(16 * KiB));
    const want = lane.site.files.get(p);
    const ranges = separateRanges(want.length, between(2, 3), 64 * KiB);
    const spec = ranges.map(([a, b]) => `${a}-${b}`).join(',');
    const res = await lane.client.request({ method: 'GET', path: p, headers: { range: `bytes=${spec}` } });
    const body = Buffer.from(await res.body.arrayBuffer());
    expectStatus(res, 206);
    const m = /boundary=([^;\s]+)/.exec(String(res.headers['content-type']));
    if (!m) throw new Error(`multipart Content-Type ${res.headers['content-type']}`);
    const parts = multipartParts(body, m[1]);
    if (parts.length !== ranges.length) throw new Error(`${parts.length} parts for ${ranges.length} ranges`);
    let wrong = 0;
    let bytes = 0;
    parts.forEach(([a, b, got], i) => {
      const [wa, wb] = ranges[i];
      wrong += a === wa && b === wb ? differing(got, want.subarray(a, b + 1)) : b - a + 1;
      bytes += got.length;
    });
    return lane.check('multipart', wrong, bytes);
  },
  async conditional(lane) {
    const p = pick(lane.site.pathsUpTo(MiB));
    const res = await lane.client.request({ method: 'HEAD', path: p });
    await res.body.dump();
    const etag = res.headers.etag;
    const lastModified = res.headers['last-modified'];
    const headers = Math.random() < 0.5 ? { 'if-none-match': etag } : { 'if-modified-since': lastModified };
    const again = await lane.client.request({ method: 'GET', path: p, headers });
    const body = Buffer.from(await again.body.arrayBuffer());
    expectStatus(again, 304);
    if (body.length !== 0) throw new Error(`a 304 with ${body.length} body bytes`);
    const stale = await lane.client.request({ method: 'GET', path: p, headers: { 'if-none-match': '"not-this-one"' } });
    expectStatus(stale, 200);
    return lane.check('conditional', await streamCompare(stale.body, [lane.site.files.get(p)]), lane.site.files.get(p).length);
  },
  async compressed(lane) {
    const p = pick(lane.site.fresh.slice(-4));
    const want = lane.site.files.get(p);
    const res = await lane.client.request({ method: 'GET', path: p, headers: { 'accept-encoding': 'br, gzip' } });
    const wire = Buffer.from(await res.body.arrayBuffer());
    expectStatus(res, 200);
    const coding = res.headers['content-encoding'];
    const body = coding === 'br' ? zlib.brotliDecompressSync(wire) : coding === 'gzip' ? zlib.gunzipSync(wire) : wire;
    lane.codings[coding ?? 'identity'] = (lane.codings[coding ?? 'identity'] ?? 0) + 1;
    return lane.check('compressed', differing(body, want), wire.length);
  },
  async swapped(lane) {
    const p = pick([...lane.site.swapped.keys()]);
    const res = await lane.client.request({ method: 'GET', path: p });
    expectStatus(res, 200);
    const length = Number(res.headers['content-length']);
    const versions = lane.site.swapped.get(p).filter((v) => v.length === length);
    if (versions.length === 0) throw new Error(`Content-Length ${length} is no version's`);
    return lane.check('swapped', await streamCompare(res.body, versions), length);
  },
};

async function getWhole(lane, p) {
  const want = lane.site.files.get(p);
  const res = await lane.client.request({ method: 'GET', path: p });
  expectStatus(res, 200);
  if (Number(res.headers['content-length']) !== want.length) throw new Error(`Content-Length ${res.headers['content-length']}`);
  return lane.check('whole', await streamCompare(res.body, [want]), want.length);
}

/**
 * A raw-socket GET of `p`: resolves with the head and the body bytes seen
 * when `stop(received)` says so or the server ends the connection.
 */
function rawGet(lane, p, onData) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(lane.port, '127.0.0.1');
    const chunks = [];
    let head = null;
    let body = Buffer.alloc(0);
    const finish = () => resolve({ head, body, socket });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (head === null) {
        const all = Buffer.concat(chunks);
        const end = all.indexOf('\r\n\r\n');
        if (end === -1) return;
        head = all.subarray(0, end).toString('latin1');
        body = all.subarray(end + 4);
      } else {
        body = Buffer.concat([body, chunk]);
      }
      onData(socket, body, finish);
    });
    socket.on('error', (err) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? finish() : reject(err)));
    socket.on('close', finish);
    socket.write(`GET ${p} HTTP/1.1\r\nHost: soak\r\n\r\n`);
  });
}

/** The bytes of a raw body that differ from the file's start (a cut-off body is checked as far as it got). */
function rawWrong(lane, p, { head, body }) {
  if (head === null) return 0;
  if (!/^HTTP\/1\.1 200 /.test(head)) throw new Error(`raw GET: ${head.split('\r\n')[0]}`);
  const want = lane.site.files.get(p);
  return differing(body.subarray(0, want.length), want.subarray(0, Math.min(body.length, want.length)));
}

const RAW_OPS = {
  /** Reads part of a large body, then closes the connection. */
  async abort(lane) {
    const p = pick(lane.site.pathsOver(MiB));
    const after = between(0, 4 * MiB);
    const got = await rawGet(lane, p, (socket, body, finish) => {
      if (body.length >= after) {
        socket.destroy();
        finish();
      }
    });
    lane.tally.aborted++;
    return lane.check('abort', rawWrong(lane, p, got), got.body.length);
  },
  /**
   * Reads the head of the 64 MiB file, then stops reading. A paused socket
   * sees no FIN, so it resumes once the server's send timeout must have cut
   * it off, and drains what the kernel still held.
   */
  async stall(lane) {
    const p = pick(lane.site.pathsOver(32 * MiB));
    const want = lane.site.files.get(p);
    lane.stalled++;
    try {
      const got = await rawGet(lane, p, (socket, body, finish) => {
        if (socket.resumeTimer === undefined) {
          socket.pause();
          socket.resumeTimer = setTimeout(() => {
            socket.resume();
            socket.giveUp = setTimeout(() => {
              socket.destroy();
              lane.tally.error('stall', 'not cut off within 10 s of the send timeout');
              finish();
            }, 10_000);
          }, lane.sendTimeout + 3000);
        }
        if (body.length >= want.length) finish();
      });
      clearTimeout(got.socket.giveUp);
      clearTimeout(got.socket.resumeTimer);
      got.socket.destroy();
      if (got.body.length < want.length) lane.tally.cutOff++;
      if (process.env.SLUICE_SOAK_DEBUG) lane.tally.errorTimes.push([Date.now() - lane.tally.started, `stall ended at ${got.body.length}`]);
      return lane.check('stall', rawWrong(lane, p, got), got.body.length);
    } finally {
      lane.stalled--;
    }
  },
};

/** Operation → weight; a stall only while fewer than 4 lanes are stalled. */
const WEIGHTS = {
  small: 40,
  medium: 5,
  large: 1.5,
  head: 5,
  range: 10,
  multipart: 5,
  conditional: 8,
  compressed: 6,
  swapped: 8,
  abort: 4,
  stall: 0.4,
};
const MAX_STALLED = 4;
// SLUICE_SOAK_OPS=op:weight,... narrows the mix (to corner a failure).
if (process.env.SLUICE_SOAK_OPS) {
  const chosen = Object.fromEntries(process.env.SLUICE_SOAK_OPS.split(',').map((kv) => kv.split(':')));
  for (const op of Object.keys(WEIGHTS)) WEIGHTS[op] = Number(chosen[op] ?? 0);
}

function chooseOp(shared) {
  let r = Math.random() * Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  for (const [op, w] of Object.entries(WEIGHTS)) {
    r -= w;
    if (r <= 0) return op === 'stall' && shared.stalled >= MAX_STALLED ? 'small' : op;
  }
  return 'small';
}

/** One connection's loop: runs while `active()` says this lane is in, with a new connection after any error. */
async function laneLoop(index, shared) {
  const lane = shared;
  let client = null;
  const drop = () => {
    const c = client;
    client = null;
    return c?.destroy().catch(() => {});
  };
  let served = 0;
  let lastDone = 0;
  let previous = '';
  let took = 0;
  while (!shared.stopping) {
    if (index >= shared.target()) {
      // Out of the load for now: close the connection rather than leave it idle past keepAliveTimeout.
      await drop();
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (client === null) {
      client = new Client(shared.base, { pipelining: 1 });
      served = 0;
    }
    const op = chooseOp(shared);
    const began = Date.now();
    try {
      const bytes = op in RAW_OPS ? await RAW_OPS[op](lane) : await CLIENT_OPS[op]({ ...lane, client });
      shared.tally.done(op, bytes);
      if (!(op in RAW_OPS)) served++;
    } catch (err) {
      const context = process.env.SLUICE_SOAK_DEBUG
        ? ` (after ${served} on the connection, ${began - lastDone} ms after ${previous}, which took ${took} ms)`
        : '';
      shared.tally.error(op, `${err.code ?? ''} ${err.message}${context}`.trim());
      await drop();
    }
    lastDone = Date.now();
    took = lastDone - began;
    previous = op;
  }
  await drop();
}

/**
 * Runs `lanes` lanes against `base` until `stop()` is called; `target()`
 * says how many are in at each moment. Resolves when every lane has ended.
 */
function startLoad({ base, site, lanes, target, sendTimeout }) {
  const shared = {
    base,
    port: Number(new URL(base).port),
    site,
    target,
    sendTimeout,
    tally: new Tally(),
    codings: Object.create(null),
    stalled: 0,
    stopping: false,
    check(op, wrong, bytes) {
      if (wrong > 0) shared.tally.wrong(op, wrong);
      return bytes;
    },
  };
  const running = Promise.all(Array.from({ length: lanes }, (_, i) => laneLoop(i, shared)));
  return {
    tally: shared.tally,
    codings: shared.codings,
    stop() {
      shared.stopping = true;
      return running;
    },
  };
}

/** One of each client operation, in turn, on one connection: the server's lazy parts (the compress worker, the pipe pools) start before the baseline is read. */
async function prime({ base, site }) {
  const client = new Client(base, { pipelining: 1 });
  const lane = { client, site, codings: Object.create(null), tally: new Tally(), check: (op, wrong, bytes) => bytes };
  try {
    for (const op of Object.keys(CLIENT_OPS)) await CLIENT_OPS[op](lane);
  } finally {
    await client.close();
  }
}

module.exports = { startLoad, prime, differing, multipartParts, separateRanges };
