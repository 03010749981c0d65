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

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * run({ host, port, path, connections, durationSec, size }) resolves
 * { requests, bytes, bodyBytes, elapsedSec, errors, errorSamples, latency: {p50, p99, mean} (ms) }.
 */
function run({ host = '127.0.0.1', port, path, connections = 1, durationSec, size }) {
  return new Promise((resolve) => {
    const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`);
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + durationSec * 1000;
    const latencies = [];
    const errorSamples = [];
    let requests = 0;
    let bytes = 0;
    let bodyBytes = 0;
    let errors = 0;
    let finished = false;
    const sockets = new Set();

    const error = (msg) => {
      errors += 1;
      if (errorSamples.length < 5) errorSamples.push(msg);
    };

    function open() {
      if (finished) return;
      let head = null; // Buffer while reading a response head
      let remaining = 0; // body bytes still expected
      let state = 'idle';
      let started = 0n;

      const send = () => {
        if (finished || Date.now() >= deadline) return;
        state = 'head';
        head = null;
        started = process.hrtime.bigint();
        sock.write(request);
      };

      const onBytes = (n, buf) => {
        if (finished) return false;
        bytes += n;
        let i = 0;
        while (i < n) {
          if (state === 'head') {
            const piece = buf.subarray(i, n);
            const prevLen = head ? head.length : 0;
            head = head ? Buffer.concat([head, piece]) : Buffer.from(piece);
            const end = head.indexOf(CRLFCRLF);
            if (end < 0) {
              if (head.length > 65536) {
                error('response head over 64 KiB');
                sock.destroy();
                return false;
              }
              return true;
            }
            const text = head.subarray(0, end).toString('latin1');
            const status = Number(text.slice(9, 12));
            const m = text.match(/\r\ncontent-length:\s*(\d+)/i);
            if (status !== 200 || !m) {
              error(`status ${status}${m ? '' : ' without Content-Length'}`);
              sock.destroy();
              return false;
            }
            remaining = Number(m[1]);
            if (remaining !== size) error(`Content-Length ${remaining}, expected ${size}`);
            i += end + 4 - prevLen;
            state = 'body';
          }
          if (state === 'body') {
            const take = Math.min(remaining, n - i);
            remaining -= take;
            bodyBytes += take;
            i += take;
            if (remaining === 0) {
              requests += 1;
              latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
              state = 'idle';
              if (i < n) {
                error(`${n - i} bytes after the end of a body`);
                sock.destroy();
                return false;
              }
              send();
            }
          } else if (state === 'idle' && i < n) {
            error(`${n - i} unexpected bytes between responses`);
            sock.destroy();
            return false;
          }
        }
        return true;
      };

      const sock = net.connect({ host, port, onread: { buffer: readBuf, callback: onBytes } });
      sockets.add(sock);
      sock.setNoDelay(true);
      sock.on('connect', send);
      sock.on('error', (err) => {
        if (!finished) error(err.code || err.message);
      });
      sock.on('close', () => {
        sockets.delete(sock);
        if (finished) return;
        if (state !== 'idle') error(`connection closed by the server in the middle of a ${state === 'head' ? 'response head' : 'body'}`);
        // keep the connection count: reconnect, as autocannon does
        if (Date.now() < deadline) setTimeout(open, 10);
      });
    }

    for (let c = 0; c < connections; c++) open();

    setTimeout(() => {
      finished = true;
      const elapsedSec = Number(process.hrtime.bigint() - t0) / 1e9;
      for (const s of sockets) s.destroy();
      latencies.sort((a, b) => a - b);
      resolve({
        requests,
        bytes,
        bodyBytes,
        elapsedSec,
        errors,
        errorSamples,
        latency: {
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null,
        },
      });
    }, durationSec * 1000);
  });
}

module.exports = { run };
