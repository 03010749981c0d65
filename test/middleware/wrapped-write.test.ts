// Middleware that wraps res.write (Express's `compression`, byte-counting
// loggers) must see every body byte, so with such a wrapper in front the
// body goes through res.write rather than around it, on every engine.
// `compression` itself also drops write callbacks; the stand-in here does
// the same.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import express, { type RequestHandler } from 'express';
import { Agent } from 'undici';
import { serveStatic } from '../../server/src/index';
import { fixtures, scratchDir, sha256 } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';

type Write = (chunk: unknown, encoding?: unknown) => boolean;
type End = (chunk?: unknown) => http.ServerResponse;

/** Gzips the body, as `compression` does: no Content-Length, callbacks dropped. */
const gzipEverything: RequestHandler = (req, res, next) => {
  if (!/\bgzip\b/.test(String(req.headers['accept-encoding']))) return next();
  const gzip = zlib.createGzip();
  const write = res.write.bind(res) as Write;
  const end = res.end.bind(res) as End;
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    res.removeHeader('Content-Length');
    res.setHeader('Content-Encoding', 'gzip');
    gzip.on('data', (chunk: Buffer) => {
      if (!write(chunk)) gzip.pause();
    });
    res.on('drain', () => gzip.resume());
    gzip.on('end', () => end());
  };
  (res as unknown as { write: Write }).write = (chunk) => {
    start();
    return gzip.write(chunk as Buffer);
  };
  (res as unknown as { end: End }).end = (chunk) => {
    start();
    if (chunk) gzip.write(chunk as Buffer);
    gzip.end();
    return res;
  };
  next();
};

/** Counts the bytes that pass through res.write. */
function countBytes(into: number[]): RequestHandler {
  return (_req, res, next) => {
    const write = res.write.bind(res) as Write;
    let count = 0;
    (res as unknown as { write: Write }).write = (chunk, encoding) => {
      if (chunk) count += Buffer.byteLength(chunk as Buffer);
      return write(chunk, encoding);
    };
    res.on('finish', () => into.push(count));
    next();
  };
}

forEachEngine('wrapped res.write', (engine) => {
  const fx = fixtures();
  // A body gzip shrinks to almost nothing: its output never fills Node's
  // buffer, so no 'drain' ever follows the wrapper's back-pressure.
  const textRoot = scratchDir();
  const text = Buffer.from('a line of text that compresses well\n'.repeat(30000));
  const counted: number[] = [];
  let server: http.Server;
  let origin: string;
  let agent: Agent;
  before(async () => {
    fs.writeFileSync(`${textRoot}/text.txt`, text);
    const app = express();
    app.use('/gz', gzipEverything, serveStatic(fx.root, { engine, precompressed: false }));
    app.use('/gz-text', gzipEverything, serveStatic(textRoot, { engine, precompressed: false }));
    app.use('/count', countBytes(counted), serveStatic(fx.root, { engine }));
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await agent.request({ origin, path, method: 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  it('should let a compressing wrapper compress the whole body', async () => {
    for (const name of ['/hello.txt', '/size-65537.bin', '/size-1048579.bin']) {
      const res = await get(`/gz${name}`, { 'accept-encoding': 'gzip' });
      assert.equal(res.status, 200, name);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(sha256(zlib.gunzipSync(res.body)), sha256(fx.bytes(name)), name);
    }
  });

  it('should not stall on a wrapper whose back-pressure sends no drain', async () => {
    const res = await get('/gz-text/text.txt', { 'accept-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.ok(res.body.length < text.length / 10);
    assert.ok(zlib.gunzipSync(res.body).equals(text));
  });

  it('should let it compress a range and a multipart body', async () => {
    const data = fx.bytes('/size-1048579.bin');
    const one = await get('/gz/size-1048579.bin', { 'accept-encoding': 'gzip', range: 'bytes=100-100099' });
    assert.equal(one.status, 206);
    assert.ok(zlib.gunzipSync(one.body).equals(data.subarray(100, 100100)));
    const many = await get('/gz/size-1048579.bin', { 'accept-encoding': 'gzip', range: 'bytes=0-9,-10' });
    assert.equal(many.status, 206);
    const text = zlib.gunzipSync(many.body);
    assert.ok(text.includes(data.subarray(0, 10)) && text.includes(data.subarray(data.length - 10)));
  });

  it('should send bodies untouched to clients the wrapper leaves alone', async () => {
    const res = await get('/gz/size-65537.bin');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(sha256(res.body), sha256(fx.bytes('/size-65537.bin')));
  });

  it('should let a counting wrapper see every body byte', async () => {
    counted.length = 0;
    await get('/count/size-1048579.bin');
    await get('/count/size-4095.bin', { range: 'bytes=0-99' });
    assert.deepEqual(counted, [1048579, 100]);
  });
});
