// createSecureServer({ http2: true }) answers GET and HEAD streams on Node's
// core HTTP/2 API (stream.respond, stream.end) instead of its compatibility
// layer: every answer must be the one the compatibility layer gives
// (frontDoor: false), 'request' listeners that were not told see every
// stream, and what was answered is reported as 'frontDoorResponse'.
import { strict as assert } from 'node:assert';
import type { IncomingMessage } from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createSecureServer, frontDoorAware, type FrontDoorResponse, type SluiceSecureServer } from '../../server/src/index';
import { fixtures, sha256 } from '../helpers/fixtures';
import { testCert } from '../helpers/tls';

interface Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function request(session: http2.ClientHttp2Session, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': method, ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let got: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      got = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: got, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.end();
  });
}

interface Running {
  server: SluiceSecureServer;
  session: http2.ClientHttp2Session;
  close(): Promise<void>;
}

async function start(frontDoor?: boolean): Promise<Running> {
  const { cert } = testCert();
  if (!cert) throw new Error('no certificate');
  const server = createSecureServer(fixtures().root, { tls: { key: cert.key, cert: cert.cert }, http2: true, compress: false, frontDoor });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, { ca: cert.cert });
  return {
    server,
    session,
    close: () =>
      new Promise((resolve) => {
        session.close();
        server.close(() => resolve());
      }),
  };
}

/** What must be the same either way: status, fields but Date, and the body (a multipart boundary aside). */
function comparable(r: Reply): { status: number; headers: Record<string, unknown>; body: string } {
  const headers: Record<string, unknown> = { ...r.headers };
  delete headers.date;
  const boundary = /boundary=(\S+)/.exec(String(r.headers['content-type'] ?? ''))?.[1];
  let body = r.body.toString('latin1');
  if (boundary !== undefined) {
    headers['content-type'] = String(headers['content-type']).replace(boundary, 'B');
    body = body.split(boundary).join('B');
  }
  return { status: r.status, headers, body: sha256(Buffer.from(body, 'latin1')) };
}

const CASES: readonly [string, Record<string, string>, string][] = [
  ['/hello.txt', {}, 'GET'],
  ['/hello.txt', {}, 'HEAD'],
  ['/size-65536.bin', {}, 'GET'],
  ['/size-65537.bin', {}, 'GET'],
  ['/size-1048579.bin', { range: 'bytes=4096-528383' }, 'GET'],
  ['/size-1048579.bin', { range: 'bytes=0-99,700000-700999,-10' }, 'GET'],
  ['/size-1048579.bin', { range: 'bytes=2000000-' }, 'GET'],
  ['/size-0.bin', {}, 'GET'],
  ['/missing.txt', {}, 'GET'],
  ['/missing.txt', {}, 'HEAD'],
  ['/dir', {}, 'GET'],
  ['/dir/', {}, 'GET'],
  ['/.secret', {}, 'GET'],
  ['/%00', {}, 'GET'],
  ['/hello.txt', {}, 'POST'],
  ['/hello.txt', { 'if-match': '"nope"' }, 'GET'],
  ['/hello.txt', { 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() }, 'GET'],
  ['/hello.txt', { expect: '100-continue' }, 'GET'],
];

describe('createSecureServer({ http2: true }): GET and HEAD streams on the core API', function () {
  const { cert, reason } = testCert();
  if (!cert) {
    it.skip(`skipped: no certificate (${reason})`, () => {});
    return;
  }
  const fx = fixtures();
  let core: Running;
  let compat: Running;
  /** Requests the compatibility layer handed to 'request' listeners, on the core server. */
  const seen: string[] = [];
  const reports: FrontDoorResponse[] = [];
  before(async () => {
    core = await start();
    compat = await start(false);
    core.server.on(
      'request',
      frontDoorAware((req: IncomingMessage) => void seen.push(`${req.method} ${req.url}`)),
    );
    core.server.on('frontDoorResponse', (r: FrontDoorResponse) => reports.push(r));
  });
  after(async () => {
    await core.close();
    await compat.close();
  });

  it('should say so on server.sluice (and not with frontDoor: false)', () => {
    assert.equal(core.server.sluice.streams, true);
    assert.equal(compat.server.sluice.streams, false);
  });

  it("should answer every case exactly as Node's compatibility layer does (status, fields, body)", async () => {
    for (const [path, headers, method] of CASES) {
      const a = comparable(await request(core.session, path, headers, method));
      const b = comparable(await request(compat.session, path, headers, method));
      assert.deepEqual(a, b, `${method} ${path} ${JSON.stringify(headers)}`);
    }
    const etag = String((await request(core.session, '/hello.txt')).headers.etag);
    const a = comparable(await request(core.session, '/hello.txt', { 'if-none-match': etag }));
    assert.equal(a.status, 304);
    assert.deepEqual(a, comparable(await request(compat.session, '/hello.txt', { 'if-none-match': etag })));
  });

  it('should send files exactly, from memory and copied, on concurrent streams', async () => {
    const names = ['/size-1.bin', '/size-4095.bin', '/size-65536.bin', '/size-65537.bin', '/size-1048579.bin', '/hello.txt'];
    const replies = await Promise.all(names.map((n) => request(core.session, n)));
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(fx.bytes(names[i] as string).length));
      assert.equal(sha256(r.body), sha256(fx.bytes(names[i] as string)), names[i]);
    });
  });

  it('should send 64 MiB exactly, with HTTP/2 flow control and back-pressure', async () => {
    const r = await request(core.session, '/size-67108864.bin');
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), sha256(fx.bytes('/size-67108864.bin')));
  });

  it("should answer a file's GET without the compatibility layer, and give it other methods", async () => {
    seen.length = 0;
    await request(core.session, '/hello.txt');
    await request(core.session, '/hello.txt', {}, 'HEAD');
    assert.deepEqual(seen, []);
    await request(core.session, '/hello.txt', {}, 'POST');
    assert.deepEqual(seen, ['POST /hello.txt']);
  });

  it('should report each stream it answered as frontDoorResponse, with status and body bytes', async () => {
    reports.length = 0;
    await request(core.session, '/size-4095.bin', { 'user-agent': 'probe/1' });
    await request(core.session, '/missing.txt');
    await request(core.session, '/size-1048579.bin', { range: 'bytes=0-9' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const got = reports.map((r) => [r.method, r.url, r.httpVersion, r.statusCode, r.bodyBytes]);
    assert.deepEqual(got, [
      ['GET', '/size-4095.bin', '2.0', 200, 4095],
      ['GET', '/missing.txt', '2.0', 404, Number((await request(compat.session, '/missing.txt')).headers['content-length'])],
      ['GET', '/size-1048579.bin', '2.0', 206, 10],
    ]);
    assert.equal(reports[0]?.headers['user-agent'], 'probe/1');
    assert.equal(reports[0]?.remoteAddress, '127.0.0.1');
  });

  it('should keep serving after a client resets a stream mid-body', async () => {
    const stream = core.session.request({ ':path': '/size-67108864.bin' });
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const r = await request(core.session, '/hello.txt');
    assert.equal(r.body.toString(), 'hello, world\n');
  });

  it("should give every stream to a 'request' listener not marked frontDoorAware", async () => {
    const own = await start();
    try {
      const urls: string[] = [];
      own.server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
        assert.ok(req instanceof http2.Http2ServerRequest);
        assert.ok(res instanceof http2.Http2ServerResponse);
        urls.push(req.url);
      });
      const r = await request(own.session, '/hello.txt');
      assert.equal(r.body.toString(), 'hello, world\n');
      assert.deepEqual(urls, ['/hello.txt']);
    } finally {
      await own.close();
    }
  });

  it('should refuse a frontDoor option that is not a boolean', () => {
    const tls = { key: cert.key, cert: cert.cert };
    assert.throws(() => createSecureServer(fx.root, { tls, http2: true, frontDoor: 'no' as unknown as boolean }), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});
