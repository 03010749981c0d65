// The standalone handler writes a file's head from one cached list
// (head.ts); middleware sets the same fields one by one. Both must put
// the same fields, in the same order, with the same values, on the wire, for
// every kind of answer: 200, HEAD, 206, multipart, 304 by ETag and by date,
// a precompressed variant with Vary, and If-Range gone stale. And the fast
// path must stand aside for a header set before it.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { openFile } from '../../server/src/file-table';
import { createHandler, serveStatic, type SluiceOptions } from '../../server/src/index';
import { fixtures } from '../helpers/fixtures';
import { connect, readResponses, type RawResponse } from '../helpers/raw-http';

const FILE = '/size-65537.bin';

interface Listening {
  port: number;
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One GET or HEAD on its own connection; the head's fields in wire order. */
async function fetchRaw(port: number, method: string, target: string, headers: Record<string, string>): Promise<{ res: RawResponse; fields: string[] }> {
  const socket = await connect(port);
  try {
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: x', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const [res] = await readResponses(socket, 1, [method === 'HEAD']);
    return { res: res as RawResponse, fields: Object.keys((res as RawResponse).headers) };
  } finally {
    socket.destroy();
  }
}

/** A multipart boundary differs per response: compare the rest. */
function comparable(value: string): string {
  return value.replace(/boundary=\S+/, 'boundary=*');
}

describe('fast head (createHandler) vs setHeader path (serveStatic)', () => {
  const fx = fixtures();
  const root = fs.mkdtempSync(path.join(fx.root, '..', 'fast-head-'));
  const plain = fx.bytes(FILE);
  fs.writeFileSync(path.join(root, 'file.bin'), plain);
  fs.writeFileSync(path.join(root, 'page.html'), '<!DOCTYPE html><p>page</p>\n'.repeat(50));
  fs.writeFileSync(path.join(root, 'page.html.br'), Buffer.from('not really brotli, but served as the br variant'));
  const opts: SluiceOptions = { maxAge: '1h', precompressed: true };
  let fast: Listening;
  let general: Listening;
  let etag = '';
  let lastModified = '';

  before(async () => {
    const handler = createHandler(root, opts);
    const middleware = serveStatic(root, opts);
    fast = await listen(handler);
    general = await listen((req, res) =>
      middleware(req, res, () => {
        res.statusCode = 404;
        res.end();
      }),
    );
    const first = await fetchRaw(fast.port, 'GET', '/file.bin', {});
    etag = first.res.headers.etag ?? '';
    lastModified = first.res.headers['last-modified'] ?? '';
    assert.ok(etag && lastModified);
  });
  after(async () => {
    await fast.close();
    await general.close();
  });

  const cases: Array<[string, string, string, () => Record<string, string>]> = [
    ['a whole file', 'GET', '/file.bin', () => ({})],
    ['HEAD', 'HEAD', '/file.bin', () => ({})],
    ['one range', 'GET', '/file.bin', () => ({ Range: 'bytes=100-4195' })],
    ['a suffix range', 'GET', '/file.bin', () => ({ Range: 'bytes=-10' })],
    ['several ranges (multipart)', 'GET', '/file.bin', () => ({ Range: 'bytes=0-9,5000-5009' })],
    ['If-None-Match that matches (304)', 'GET', '/file.bin', () => ({ 'If-None-Match': etag })],
    ['If-Modified-Since not older (304)', 'GET', '/file.bin', () => ({ 'If-Modified-Since': lastModified })],
    ['If-None-Match that does not match', 'GET', '/file.bin', () => ({ 'If-None-Match': '"other"' })],
    ['If-Range that is stale', 'GET', '/file.bin', () => ({ Range: 'bytes=0-9', 'If-Range': '"stale"' })],
    ['If-Range that holds', 'GET', '/file.bin', () => ({ Range: 'bytes=0-9', 'If-Range': lastModified })],
    ['a precompressed variant', 'GET', '/page.html', () => ({ 'Accept-Encoding': 'br' })],
    ['the identity of a file with variants', 'GET', '/page.html', () => ({ 'Accept-Encoding': 'identity' })],
    ['a range of a variant', 'GET', '/page.html', () => ({ 'Accept-Encoding': 'br', Range: 'bytes=2-5' })],
    ['a 304 of a variant', 'GET', '/page.html', () => ({ 'Accept-Encoding': 'br', 'If-None-Match': '*' })],
  ];

  for (const [title, method, target, headers] of cases) {
    it(`should answer ${title} with the same status, fields and bytes`, async () => {
      const a = await fetchRaw(fast.port, method, target, headers());
      const b = await fetchRaw(general.port, method, target, headers());
      assert.equal(a.res.status, b.res.status);
      assert.deepEqual(a.fields, b.fields, 'the same fields in the same order');
      for (const name of a.fields) {
        if (name === 'date') continue;
        assert.equal(comparable(a.res.headers[name] ?? ''), comparable(b.res.headers[name] ?? ''), name);
      }
      if (!a.res.headers['content-type']?.startsWith('multipart/')) assert.deepEqual(a.res.body, b.res.body);
      else assert.equal(a.res.body.length, b.res.body.length);
    });
  }

  it('should send what a range promises, byte for byte', async () => {
    const { res } = await fetchRaw(fast.port, 'GET', '/file.bin', { Range: 'bytes=100-4195' });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-range'], `bytes 100-4195/${plain.length}`);
    assert.deepEqual(res.body, plain.subarray(100, 4196));
  });

  it('should keep a header set before the handler, and still send its own', async () => {
    const handler = createHandler(root, opts);
    const wrapped = await listen((req, res) => {
      res.setHeader('X-Frame-Options', 'DENY');
      res.setHeader('Cache-Control', 'no-store');
      handler(req, res);
    });
    try {
      const { res } = await fetchRaw(wrapped.port, 'GET', '/file.bin', {});
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['cache-control'], 'no-store', "send's rule: a field set before is not replaced");
      assert.equal(res.headers.etag, etag);
      assert.deepEqual(res.body, plain);
    } finally {
      await wrapped.close();
    }
  });

  it('should give each handler its own heads (options differ, the file is shared)', async () => {
    const other = await listen(createHandler(root, { maxAge: 0, etag: false, acceptRanges: false }));
    try {
      const a = await fetchRaw(other.port, 'GET', '/file.bin', {});
      const b = await fetchRaw(fast.port, 'GET', '/file.bin', {});
      assert.equal(a.res.headers['cache-control'], 'public, max-age=0');
      assert.equal(a.res.headers.etag, undefined);
      assert.equal(a.res.headers['accept-ranges'], undefined);
      assert.equal(b.res.headers['cache-control'], 'public, max-age=3600');
      assert.equal(b.res.headers.etag, etag);
    } finally {
      await other.close();
    }
  });

  it('should not grow the per-file memo when a handler is made per request', async () => {
    const perRequest = await listen((req, res) => createHandler(root, { maxAge: '2h' })(req, res));
    const headsSize = (): Promise<number> =>
      new Promise((resolve, reject) => {
        openFile(path.join(root, 'file.bin'), (err, file) => {
          if (err || !file) return reject(err);
          const size = file.heads.size;
          file.release();
          resolve(size);
        });
      });
    try {
      await fetchRaw(perRequest.port, 'GET', '/file.bin', {});
      const after1 = await headsSize();
      for (let i = 0; i < 30; i++) await fetchRaw(perRequest.port, 'GET', '/file.bin', {});
      assert.equal(await headsSize(), after1);
    } finally {
      await perRequest.close();
    }
  });

  it('should write a new head when the file changes', async () => {
    const file = path.join(root, 'changing.txt');
    fs.writeFileSync(file, 'first version\n');
    const first = await fetchRaw(fast.port, 'GET', '/changing.txt', {});
    const later = new Date(Date.now() + 5000);
    fs.writeFileSync(file, 'the second, longer version\n');
    fs.utimesSync(file, later, later);
    // The open-file table trusts an entry for 1 s, then looks again.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await fetchRaw(fast.port, 'GET', '/changing.txt', {});
    assert.equal(first.res.body.toString(), 'first version\n');
    assert.equal(second.res.body.toString(), 'the second, longer version\n');
    assert.equal(second.res.headers['content-length'], '27');
    assert.notEqual(second.res.headers.etag, first.res.headers.etag);
    assert.notEqual(second.res.headers['last-modified'], first.res.headers['last-modified']);
  });
});
