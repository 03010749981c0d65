// HTTPS and HTTP/2 (over TLS with HTTP/1.1 allowed, and cleartext h2c):
// whatever engine the handler was built with, bodies go through the copy
// engine there (TLS encrypts and HTTP/2 frames in user space; over h2c the
// socket's fd is reachable but every byte must still be framed), and they
// stay byte-exact, whole, ranged and multipart.
import { strict as assert } from 'node:assert';
import type * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { copyStats } from '../../server/src/engines/copy';
import { smallFileMaxFor } from '../../server/src/engines';
import { createHandler, createSecureServer, type SluiceSecureServer } from '../../server/src/index';
import { fixtures, sha256 } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';
import { testCert } from '../helpers/tls';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Counts bodies the copy engine sends, for the duration of a suite. */
function countCopies(): { count: () => number; restore: () => void } {
  const start = copyStats.bodies;
  return { count: () => copyStats.bodies - start, restore: () => {} };
}

function h2request(session: http2.ClientHttp2Session, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': method, ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let got: Reply['headers'] = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      got = h as Reply['headers'];
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: got, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end();
  });
}

function listen(server: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** The checks every transport gets: bodies exact, ranges, multipart, HEAD, 304. */
/**
 * `copied`: how many of the four whole-file bodies go through the copy
 * engine. Under auto and io_uring the two small ones are written from
 * memory instead, through Node's stream all the same.
 */
function bodyChecks(get: (path: string, headers?: Record<string, string>, method?: string) => Promise<Reply>, copies: () => number, copied = 4): void {
  const fx = fixtures();

  it('should send whole files exactly, through the copy engine', async () => {
    const before = copies();
    for (const name of ['/hello.txt', '/size-1.bin', '/size-65537.bin', '/size-1048579.bin']) {
      const res = await get(name);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers['content-length'], String(fx.bytes(name).length));
      assert.equal(sha256(res.body), sha256(fx.bytes(name)), name);
    }
    assert.equal(copies() - before, copied, 'every body went through copy');
  });

  it('should send a single range exactly', async () => {
    const data = fx.bytes('/size-1048579.bin');
    const res = await get('/size-1048579.bin', { range: 'bytes=4096-528383' });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-range'], 'bytes 4096-528383/1048579');
    assert.ok(res.body.equals(data.subarray(4096, 528384)));
  });

  it('should send several ranges as multipart/byteranges, part by part', async () => {
    const data = fx.bytes('/size-1048579.bin');
    const res = await get('/size-1048579.bin', { range: 'bytes=0-99,700000-700999,-10' });
    assert.equal(res.status, 206);
    const boundary = /boundary=(\S+)/.exec(String(res.headers['content-type']))?.[1];
    assert.ok(boundary);
    assert.equal(res.headers['content-length'], String(res.body.length));
    const parts = res.body.toString('latin1').split(`--${boundary}`).slice(1, -1);
    assert.equal(parts.length, 3);
    const expected = [data.subarray(0, 100), data.subarray(700000, 701000), data.subarray(1048569)];
    parts.forEach((part, i) => {
      const bytes = Buffer.from(part, 'latin1');
      const start = bytes.indexOf('\r\n\r\n') + 4;
      // Each part ends with the CRLF that precedes the next delimiter.
      assert.ok(bytes.subarray(start, bytes.length - 2).equals(expected[i] as Buffer), `part ${i}`);
    });
  });

  it('should answer HEAD without a body and 304 to a matching ETag', async () => {
    const head = await get('/size-65537.bin', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '65537');
    assert.equal(head.body.length, 0);
    const first = await get('/hello.txt');
    assert.equal((await get('/hello.txt', { 'if-none-match': String(first.headers.etag) })).status, 304);
  });

  it('should answer 404 without a body that names a path', async () => {
    const res = await get('/missing.txt');
    assert.equal(res.status, 404);
    assert.ok(!res.body.toString().includes(fx.root));
  });
}

const { cert, reason } = testCert();

forEachEngine('https', (engine) => {
  if (!cert) {
    it.skip(`skipped: no certificate (${reason})`, () => {});
    return;
  }
  const fx = fixtures();
  let server: https.Server;
  let origin: string;
  let agent: Agent;
  let counter: ReturnType<typeof countCopies>;
  before(async () => {
    counter = countCopies();
    server = https.createServer({ key: cert.key, cert: cert.cert }, createHandler(fx.root, { engine }));
    origin = `https://127.0.0.1:${await listen(server)}`;
    agent = new Agent({ connect: { ca: cert.cert } });
  });
  after(async () => {
    counter.restore();
    await agent.close();
    await close(server);
  });

  bodyChecks(
    async (path, headers = {}, method = 'GET') => {
      const res = await agent.request({ origin, path, method: method as 'GET', headers });
      return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
    },
    () => counter.count(),
    smallFileMaxFor(engine) > 0 ? 2 : 4,
  );

  it('should send 64 MiB exactly over TLS', async () => {
    const res = await agent.request({ origin, path: '/size-67108864.bin', method: 'GET' });
    assert.equal(res.statusCode, 200);
    assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(fx.bytes('/size-67108864.bin')));
  });
});

forEachEngine('http2 over TLS (allowHTTP1)', (engine) => {
  if (!cert) {
    it.skip(`skipped: no certificate (${reason})`, () => {});
    return;
  }
  const fx = fixtures();
  let server: http2.Http2SecureServer;
  let port: number;
  let session: http2.ClientHttp2Session;
  let agent: Agent;
  let counter: ReturnType<typeof countCopies>;
  before(async () => {
    counter = countCopies();
    const handler = createHandler(fx.root, { engine }) as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
    server = http2.createSecureServer({ key: cert.key, cert: cert.cert, allowHTTP1: true }, handler);
    port = await listen(server);
    session = http2.connect(`https://127.0.0.1:${port}`, { ca: cert.cert });
    agent = new Agent({ connect: { ca: cert.cert } });
  });
  after(async () => {
    counter.restore();
    session.close();
    await agent.close();
    await close(server);
  });

  describe('with an HTTP/2 client', () => {
    bodyChecks(
      (path, headers, method) => h2request(session, path, headers, method),
      () => counter.count(),
      smallFileMaxFor(engine) > 0 ? 2 : 4,
    );

    it('should send 64 MiB exactly, with HTTP/2 flow control', async () => {
      const res = await h2request(session, '/size-67108864.bin');
      assert.equal(res.status, 200);
      assert.equal(sha256(res.body), sha256(fx.bytes('/size-67108864.bin')));
    });

    it('should serve concurrent streams on one session exactly', async () => {
      const names = ['/size-65537.bin', '/size-1048579.bin', '/hello.txt', '/size-4095.bin'];
      const replies = await Promise.all(names.map((n) => h2request(session, n)));
      replies.forEach((r, i) => assert.equal(sha256(r.body), sha256(fx.bytes(names[i] as string))));
    });
  });

  describe('with an HTTP/1.1 client on the same server', () => {
    bodyChecks(
      async (path, headers = {}, method = 'GET') => {
        const res = await agent.request({ origin: `https://127.0.0.1:${port}`, path, method: method as 'GET', headers });
        return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
      },
      () => counter.count(),
      smallFileMaxFor(engine) > 0 ? 2 : 4,
    );
  });
});

forEachEngine('http2 cleartext (h2c)', (engine) => {
  const fx = fixtures();
  let server: http2.Http2Server;
  let session: http2.ClientHttp2Session;
  let counter: ReturnType<typeof countCopies>;
  before(async () => {
    counter = countCopies();
    const handler = createHandler(fx.root, { engine }) as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
    server = http2.createServer(handler);
    session = http2.connect(`http://127.0.0.1:${await listen(server)}`);
  });
  after(async () => {
    counter.restore();
    session.close();
    await close(server);
  });

  bodyChecks(
    (path, headers, method) => h2request(session, path, headers, method),
    () => counter.count(),
    smallFileMaxFor(engine) > 0 ? 2 : 4,
  );

  it('should send 64 MiB exactly', async () => {
    const res = await h2request(session, '/size-67108864.bin');
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), sha256(fx.bytes('/size-67108864.bin')));
  });
});

// sluice's own HTTPS server: small files go from memory with the head (one
// write, one TLS record) unless an engine is named; larger ones are copied.
for (const h2 of [false, true]) {
  for (const engine of [undefined, 'copy'] as const) {
    describe(`createSecureServer (${h2 ? 'http2, ' : ''}engine ${engine ?? 'unnamed'})`, () => {
      if (!cert) {
        it.skip(`skipped: no certificate (${reason})`, () => {});
        return;
      }
      const fx = fixtures();
      let server: SluiceSecureServer;
      let origin: string;
      let agent: Agent;
      let counter: ReturnType<typeof countCopies>;
      before(async () => {
        counter = countCopies();
        server = createSecureServer(fx.root, { tls: { key: cert.key, cert: cert.cert }, http2: h2, engine, compress: false });
        origin = `https://127.0.0.1:${await listen(server)}`;
        agent = new Agent({ connect: { ca: cert.cert } });
      });
      after(async () => {
        counter.restore();
        await agent.close();
        await close(server);
      });

      bodyChecks(
        async (path, headers = {}, method = 'GET') => {
          const res = await agent.request({ origin, path, method: method as 'GET', headers });
          return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
        },
        () => counter.count(),
        engine === 'copy' ? 4 : 2,
      );

      it(`should send a 64 KiB file ${engine === 'copy' ? 'through the copy engine' : 'from memory'}, and turn Nagle's algorithm off`, async () => {
        const before = counter.count();
        const res = await agent.request({ origin, path: '/size-65536.bin', method: 'GET' });
        assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(fx.bytes('/size-65536.bin')));
        assert.equal(counter.count() - before, engine === 'copy' ? 1 : 0);
        assert.equal((server as unknown as { noDelay: boolean }).noDelay, true);
      });
    });
  }
}
