// Conditionals and multi-range limits at the HTTP level, on every engine:
// If-Match / If-Unmodified-Since → 412, If-Range by ETag and by date,
// overlapping and adjacent ranges coalesced, too many parts refused (the
// whole file instead), each part checked byte by byte.
import { strict as assert } from 'node:assert';
import { Agent } from 'undici';
import { fixtures } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

const FILE = '/size-1048579.bin';
const SIZE = 1048579;

function parts(body: Buffer, contentType: string): Array<{ range: string; type: string; body: Buffer }> {
  const boundary = /boundary=(\S+)/.exec(contentType)?.[1];
  assert.ok(boundary, contentType);
  const out: Array<{ range: string; type: string; body: Buffer }> = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  assert.equal(at, 0, 'the body starts with the first delimiter');
  for (;;) {
    const headStart = at + delimiter.length;
    if (body.subarray(headStart, headStart + 4).toString() === '--\r\n') {
      assert.equal(headStart + 4, body.length, 'nothing after the closing delimiter');
      return out;
    }
    const headEnd = body.indexOf('\r\n\r\n', headStart);
    const head = body.subarray(headStart, headEnd).toString('latin1');
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headEnd + 4);
    out.push({
      range: /content-range: (.*)/i.exec(head)?.[1]?.trim() ?? '',
      type: /content-type: (.*)/i.exec(head)?.[1]?.trim() ?? '',
      body: body.subarray(headEnd + 4, next),
    });
    at = next + 2;
  }
}

forEachEngine('conditionals and ranges', (engine) => {
  const fx = fixtures();
  const data = fx.bytes(FILE);
  let server: TestServer;
  let capped: TestServer;
  let agent: Agent;
  let etag: string;
  let lastModified: string;
  before(async () => {
    server = await startServer(fx.root, { engine });
    capped = await startServer(fx.root, { engine, maxRanges: 3 });
    agent = new Agent();
    const first = await get(server, FILE, {}, 'HEAD');
    etag = String(first.headers.etag);
    lastModified = String(first.headers['last-modified']);
  });
  after(async () => {
    await agent.close();
    await server.close();
    await capped.close();
  });

  async function get(on: TestServer, path: string, headers: Record<string, string> = {}, method = 'GET') {
    const res = await agent.request({ origin: on.url, path, method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  describe('with If-Match or If-Unmodified-Since', () => {
    const cases: Array<[string, () => Record<string, string>, number]> = [
      ['a matching If-Match', () => ({ 'if-match': etag }), 200],
      ['If-Match: *', () => ({ 'if-match': '*' }), 200],
      ['If-Match listing it among others', () => ({ 'if-match': `"a", ${etag}, "b"` }), 200],
      ['a different If-Match', () => ({ 'if-match': '"other"' }), 412],
      ['If-Unmodified-Since at Last-Modified', () => ({ 'if-unmodified-since': lastModified }), 200],
      ['If-Unmodified-Since before Last-Modified', () => ({ 'if-unmodified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }), 412],
      ['an invalid If-Unmodified-Since (ignored)', () => ({ 'if-unmodified-since': 'yesterday' }), 200],
      ['a failing If-Match even with a Range', () => ({ 'if-match': '"other"', range: 'bytes=0-1' }), 412],
      ['If-Match before If-Unmodified-Since', () => ({ 'if-match': etag, 'if-unmodified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }), 200],
    ];
    for (const [what, headers, status] of cases) {
      it(`should answer ${status} to ${what}`, async () => {
        const res = await get(server, FILE, headers());
        assert.equal(res.status, status);
        if (status === 412) {
          assert.equal(res.headers['content-range'], undefined);
          assert.ok(!res.body.includes(data.subarray(0, 64)), 'no file bytes');
        }
      });
    }
  });

  describe('when if-range present', () => {
    const cases: Array<[string, () => string, number]> = [
      ['the current ETag', () => etag, 206],
      ['another ETag', () => 'W/"0-0"', 200],
      ['Last-Modified itself', () => lastModified, 206],
      ['a later date', () => 'Fri, 31 Dec 9999 23:59:59 GMT', 206],
      ['an earlier date', () => 'Sat, 01 Jan 2000 00:00:00 GMT', 200],
      ['garbage', () => 'not a validator', 200],
    ];
    for (const [what, value, status] of cases) {
      it(`should answer ${status} to If-Range with ${what}`, async () => {
        const res = await get(server, FILE, { range: 'bytes=10-19', 'if-range': value() });
        assert.equal(res.status, status);
        assert.ok(res.body.equals(status === 206 ? data.subarray(10, 20) : data));
      });
    }
  });

  describe('with several ranges', () => {
    it('should send each part with its own headers, byte-exact', async () => {
      const spec: Array<[number, number]> = [
        [0, 0],
        [100, 4195],
        [65536, 131071],
        [SIZE - 1, SIZE - 1],
      ];
      const res = await get(server, FILE, { range: `bytes=${spec.map(([a, b]) => `${a}-${b}`).join(',')}` });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-length'], String(res.body.length));
      const got = parts(res.body, String(res.headers['content-type']));
      assert.equal(got.length, spec.length);
      got.forEach((part, i) => {
        const [a, b] = spec[i] as [number, number];
        assert.equal(part.range, `bytes ${a}-${b}/${SIZE}`);
        assert.equal(part.type, 'application/octet-stream');
        assert.ok(part.body.equals(data.subarray(a, b + 1)), `part ${i}`);
      });
    });

    it('should sort parts by offset', async () => {
      const res = await get(server, FILE, { range: 'bytes=500-599,0-9' });
      assert.deepEqual(
        parts(res.body, String(res.headers['content-type'])).map((p) => p.range),
        [`bytes 0-9/${SIZE}`, `bytes 500-599/${SIZE}`],
      );
    });

    it('should coalesce overlapping ranges into one part', async () => {
      const res = await get(server, FILE, { range: 'bytes=0-99,50-149,140-199' });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes 0-199/${SIZE}`);
      assert.ok(res.body.equals(data.subarray(0, 200)));
    });

    it('should coalesce adjacent ranges into one part', async () => {
      const res = await get(server, FILE, { range: 'bytes=0-9,10-19,20-29' });
      assert.equal(res.headers['content-range'], `bytes 0-29/${SIZE}`);
      assert.equal(res.body.length, 30);
    });

    it('should never amplify: the same range repeated is sent once', async () => {
      const res = await get(server, FILE, { range: `bytes=${Array(200).fill('0-').join(',')}` });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes 0-${SIZE - 1}/${SIZE}`);
      assert.equal(res.body.length, SIZE);
    });

    it('should accept 50 disjoint parts and refuse 51 with the whole file', async () => {
      const spec = (n: number): string => `bytes=${Array.from({ length: n }, (_v, i) => `${i * 100}-${i * 100 + 9}`).join(',')}`;
      const fifty = await get(server, FILE, { range: spec(50) });
      assert.equal(fifty.status, 206);
      const got = parts(fifty.body, String(fifty.headers['content-type']));
      assert.equal(got.length, 50);
      got.forEach((p, i) => assert.ok(p.body.equals(data.subarray(i * 100, i * 100 + 10)), `part ${i}`));
      const fiftyOne = await get(server, FILE, { range: spec(51) });
      assert.equal(fiftyOne.status, 200);
      assert.equal(fiftyOne.headers['content-range'], undefined);
      assert.equal(fiftyOne.body.length, SIZE);
    });

    it('should count parts after coalescing, against the maxRanges option', async () => {
      const merged = await get(capped, FILE, { range: 'bytes=0-9,5-19,100-109,200-209' });
      assert.equal(merged.status, 206);
      assert.equal(parts(merged.body, String(merged.headers['content-type'])).length, 3);
      assert.equal((await get(capped, FILE, { range: 'bytes=0-9,100-109,200-209,300-309' })).status, 200);
    });

    it('should drop unsatisfiable parts and keep the rest', async () => {
      const res = await get(server, FILE, { range: `bytes=0-9,${SIZE + 10}-${SIZE + 20}` });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], `bytes 0-9/${SIZE}`);
    });

    it('should answer 416 when no part is satisfiable', async () => {
      const res = await get(server, FILE, { range: `bytes=${SIZE}-,${SIZE + 5}-${SIZE + 9}` });
      assert.equal(res.status, 416);
      assert.equal(res.headers['content-range'], `bytes */${SIZE}`);
    });

    it('should answer HEAD with the multipart length and no body', async () => {
      const get206 = await get(server, FILE, { range: 'bytes=0-9,100-109' });
      const head = await get(server, FILE, { range: 'bytes=0-9,100-109' }, 'HEAD');
      assert.equal(head.status, 206);
      assert.equal(head.headers['content-length'], get206.headers['content-length']);
      assert.equal(head.body.length, 0);
    });
  });
});
