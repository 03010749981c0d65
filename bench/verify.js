'use strict';
// Body checks, so a fast wrong answer never counts: before measuring, the
// whole file (sha256) and one byte range from every subject; while measuring,
// a sample of responses fetched next to the load and compared byte for byte.

const crypto = require('node:crypto');
const http = require('node:http');
const { readSlice } = require('./fixtures');

/** GET url; resolves { status, headers, sha256, length, body? } (body kept when keepBody). */
function get(url, { headers = {}, keepBody = false, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const hash = crypto.createHash('sha256');
      const parts = [];
      let length = 0;
      res.on('data', (chunk) => {
        hash.update(chunk);
        length += chunk.length;
        if (keepBody) parts.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          sha256: hash.digest('hex'),
          length,
          body: keepBody ? Buffer.concat(parts) : null,
        });
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('response aborted')));
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    function fail(err) {
      clearTimeout(timer);
      reject(err);
    }
    req.on('error', fail);
  });
}

/** A range that starts and ends off any page/chunk boundary. */
function rangeFor(file, n = 0) {
  const size = file.size;
  const len = Math.min(Math.floor(size / 3), 65536 + 13);
  const span = Math.max(1, size - len);
  const start = (Math.floor(size / 3) + 4099 * (n + 1) * 7) % span;
  return { start, end: start + len - 1 };
}

async function checkRange(url, file, n) {
  const { start, end } = rangeFor(file, n);
  const res = await get(url, { headers: { range: `bytes=${start}-${end}` }, keepBody: true });
  if (res.status !== 206) return `Range bytes=${start}-${end}: status ${res.status}, expected 206`;
  const cr = `bytes ${start}-${end}/${file.size}`;
  if (res.headers['content-range'] !== cr) return `Range bytes=${start}-${end}: Content-Range '${res.headers['content-range']}', expected '${cr}'`;
  if (!res.body.equals(readSlice(file, start, end))) {
    return `Range bytes=${start}-${end}: ${res.body.length} bytes, content differs from the file`;
  }
  return null;
}

async function checkWhole(url, file) {
  const res = await get(url, { timeoutMs: 60000 });
  if (res.status !== 200) return `GET: status ${res.status}, expected 200`;
  if (Number(res.headers['content-length']) !== file.size) {
    return `GET: Content-Length ${res.headers['content-length']}, expected ${file.size}`;
  }
  if (res.length !== file.size) return `GET: body of ${res.length} bytes, expected ${file.size}`;
  if (res.sha256 !== file.sha256) return `GET: sha256 ${res.sha256.slice(0, 16)}…, expected ${file.sha256.slice(0, 16)}…`;
  return null;
}

/** Null when `base + /name` serves `file` exactly (and its ranges, when `ranges`), else why not. */
async function verifySubject(base, file, { ranges = true } = {}) {
  const url = `${base}/${file.name}`;
  try {
    const whole = await checkWhole(url, file);
    if (whole) return whole;
    if (ranges) return await checkRange(url, file, 0);
    return null;
  } catch (err) {
    return `GET ${url}: ${err.message}`;
  }
}

/**
 * Fetches a sample response every `everyMs` while the load runs: the whole
 * body for files up to 4 MiB, else a byte range at a moving offset.
 * stop() resolves { samples, failures: [..], timeouts }.
 */
function startSampler(base, file, { everyMs = 200, ranges = true } = {}) {
  const url = `${base}/${file.name}`;
  const whole = file.size <= 4 * 1024 * 1024 || !ranges;
  const expected = whole && file.size <= 4 * 1024 * 1024 ? readSlice(file, 0, file.size - 1) : null;
  const stats = { samples: 0, failures: [], errors: 0 };
  let stopped = false;
  let wake = null;
  let n = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      n += 1;
      try {
        if (whole) {
          const res = await get(url, { keepBody: !!expected, timeoutMs: 10000 });
          stats.samples += 1;
          let bad = null;
          if (res.status !== 200) bad = `status ${res.status}`;
          else if (expected ? !res.body.equals(expected) : res.sha256 !== file.sha256) bad = `body of ${res.length} bytes differs from the file`;
          if (bad && stats.failures.length < 5) stats.failures.push(`GET /${file.name} under load: ${bad}`);
        } else {
          const bad = await checkRange(url, file, n);
          stats.samples += 1;
          if (bad && stats.failures.length < 5) stats.failures.push(`under load: ${bad}`);
        }
      } catch {
        // A slow or refused sample under load is not a wrong answer; a server
        // that died is reported by the harness.
        if (!stopped) stats.errors += 1;
      }
      const wait = everyMs - (Date.now() - started);
      if (!stopped && wait > 0) {
        await new Promise((r) => {
          const t = setTimeout(r, wait);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = null;
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      if (wake) wake();
      let timer;
      await Promise.race([
        loop,
        new Promise((r) => {
          timer = setTimeout(r, 11000);
        }),
      ]);
      clearTimeout(timer);
      return stats;
    },
  };
}

module.exports = { get, verifySubject, startSampler, rangeFor };
