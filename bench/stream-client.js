'use strict';
// The large-file load generator: N keep-alive connections, each downloading
// the same file again and again until the deadline, discarding the bytes as
// they arrive (one preallocated 1 MiB read buffer, no per-read allocation,
// no body kept), counting partial bodies too. At the
// deadline every socket is destroyed, mid-body if need be.
// Checks that every response is a 200 with Content-Length = the file size
// and exactly that many body bytes.

const net = require('node:net');

const CRLFCRLF = Buffer.from('\r\n\r\n');
// One read buffer for every socket: each read is consumed synchronously in
// its callback before the next read can land.
const readBuf = Buffer.allocUnsafe(1 << 20);
// What readHead returns instead of an offset: the head is not complete yet
// (wait for the next read), or the connection was destroyed.
const NEED_MORE = -1;
const STOPPED = -2;

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Counts an error, keeping the first five messages as samples. */
function countError(load, msg) {
  load.errors += 1;
  if (load.errorSamples.length < 5) load.errorSamples.push(msg);
}

/** Counts an error and drops the connection; returns STOPPED. */
function stopConnection(load, conn, msg) {
  countError(load, msg);
  conn.sock.destroy();
  return STOPPED;
}

/** Sends the next GET on `conn`, unless the run is over. */
function sendRequest(load, conn) {
  if (load.finished || Date.now() >= load.deadline) return;
  conn.state = 'head';
  conn.head = null;
  conn.started = process.hrtime.bigint();
  conn.sock.write(load.request);
}

/**
 * Adds buf[i, n) to the response head being read. Returns the offset of the
 * first body byte once the head is complete (and checked: a 200 with
 * Content-Length), NEED_MORE, or STOPPED.
 */
function readHead(load, conn, buf, i, n) {
  const piece = buf.subarray(i, n);
  const prevLen = conn.head ? conn.head.length : 0;
  conn.head = conn.head ? Buffer.concat([conn.head, piece]) : Buffer.from(piece);
  const end = conn.head.indexOf(CRLFCRLF);
  if (end < 0) return conn.head.length > 65536 ? stopConnection(load, conn, 'response head over 64 KiB') : NEED_MORE;
  const text = conn.head.subarray(0, end).toString('latin1');
  const status = Number(text.slice(9, 12));
  const m = text.match(/\r\ncontent-length:\s*(\d+)/i);
  if (status !== 200 || !m) return stopConnection(load, conn, `status ${status}${m ? '' : ' without Content-Length'}`);
  conn.remaining = Number(m[1]);
  if (conn.remaining !== load.size) countError(load, `Content-Length ${conn.remaining}, expected ${load.size}`);
  conn.state = 'body';
  return i + end + 4 - prevLen;
}

/**
 * Counts body bytes from offset i of a read of n bytes; at the end of the
 * body, records the response and sends the next request. Returns the offset
 * after the body bytes taken, or STOPPED when bytes follow the body.
 */
function readBody(load, conn, i, n) {
  const take = Math.min(conn.remaining, n - i);
  conn.remaining -= take;
  load.bodyBytes += take;
  i += take;
  if (conn.remaining > 0) return i;
  load.requests += 1;
  load.latencies.push(Number(process.hrtime.bigint() - conn.started) / 1e6);
  conn.state = 'idle';
  // Nothing was asked for past this body (one request in flight).
  if (i < n) return stopConnection(load, conn, `${n - i} bytes after the end of a body`);
  sendRequest(load, conn);
  return i;
}

/** The socket's onread callback: n bytes in buf. Returning false stops reading. */
function onBytes(load, conn, n, buf) {
  if (load.finished) return false;
  load.bytes += n;
  let i = 0;
  while (i < n) {
    if (conn.state === 'head') {
      i = readHead(load, conn, buf, i, n);
      if (i === NEED_MORE) return true;
      if (i === STOPPED) return false;
    }
    if (conn.state === 'body') {
      i = readBody(load, conn, i, n);
      if (i === STOPPED) return false;
    } else if (conn.state === 'idle' && i < n) {
      stopConnection(load, conn, `${n - i} unexpected bytes between responses`);
      return false;
    }
  }
  return true;
}

/** Opens one keep-alive connection, which requests the file until the deadline. */
function openConnection(load) {
  if (load.finished) return;
  // head: a Buffer while reading a response head; remaining: body bytes still expected
  const conn = { sock: null, head: null, remaining: 0, state: 'idle', started: 0n };
  const sock = net.connect({ host: load.host, port: load.port, onread: { buffer: readBuf, callback: (n, buf) => onBytes(load, conn, n, buf) } });
  conn.sock = sock;
  load.sockets.add(sock);
  sock.setNoDelay(true);
  sock.on('connect', () => sendRequest(load, conn));
  sock.on('error', (err) => {
    if (!load.finished) countError(load, err.code || err.message);
  });
  sock.on('close', () => {
    load.sockets.delete(sock);
    if (load.finished) return;
    if (conn.state !== 'idle') countError(load, `connection closed by the server in the middle of a ${conn.state === 'head' ? 'response head' : 'body'}`);
    // keep the connection count: reconnect, as autocannon does
    if (Date.now() < load.deadline) setTimeout(() => openConnection(load), 10);
  });
}

/** Ends the run: destroys every socket and returns what run() resolves. */
function finishLoad(load) {
  load.finished = true;
  const elapsedSec = Number(process.hrtime.bigint() - load.t0) / 1e9;
  for (const s of load.sockets) s.destroy();
  const latencies = load.latencies.sort((a, b) => a - b);
  return {
    requests: load.requests,
    bytes: load.bytes,
    bodyBytes: load.bodyBytes,
    elapsedSec,
    errors: load.errors,
    errorSamples: load.errorSamples,
    latency: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null,
    },
  };
}

/**
 * run({ host, port, path, connections, durationSec, size }) resolves
 * { requests, bytes, bodyBytes, elapsedSec, errors, errorSamples, latency: {p50, p99, mean} (ms) }.
 */
function run({ host = '127.0.0.1', port, path, connections = 1, durationSec, size }) {
  return new Promise((resolve) => {
    const load = {
      host,
      port,
      size,
      request: Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`),
      t0: process.hrtime.bigint(),
      deadline: Date.now() + durationSec * 1000,
      latencies: [],
      errorSamples: [],
      requests: 0,
      bytes: 0,
      bodyBytes: 0,
      errors: 0,
      finished: false,
      sockets: new Set(),
    };
    for (let c = 0; c < connections; c++) openConnection(load);
    setTimeout(() => resolve(finishLoad(load)), durationSec * 1000);
  });
}

module.exports = { run };
