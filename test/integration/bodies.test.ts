// Byte-exact bodies on every engine, whole and ranged, compared with the
// file on disk (what the copy engine, the oracle, also serves).
import { strict as assert } from 'node:assert';
import { Agent } from 'undici';
import { getter } from '../helpers/http-client';
import { fixtures, sha256, SIZES } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

forEachEngine('bodies', (engine) => {
  const fx = fixtures();
  let server: TestServer;
  let agent: Agent;
  before(async () => {
    server = await startServer(fx.root, { engine });
    agent = new Agent({ connections: 4 });
  });
  after(async () => {
    await agent.close();
    await server.close();
  });

  const get = getter(
    () => server.url,
    () => agent,
  );

  describe('when requesting a whole file', () => {
    for (const size of SIZES) {
      it(`should send ${size} bytes exactly`, async () => {
        const res = await get(`/size-${size}.bin`);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-length'], String(size));
        assert.equal(res.body.length, size);
        assert.equal(sha256(res.body), sha256(fx.bytes(`/size-${size}.bin`)));
      });
    }
  });

  describe('with Range request', () => {
    for (const size of SIZES.filter((s) => s > 0)) {
      const file = `/size-${size}.bin`;
      const cases: Array<[string, number, number]> = [
        [`bytes=0-0`, 0, 0],
        [`bytes=${Math.floor(size / 3)}-${Math.floor((2 * size) / 3)}`, Math.floor(size / 3), Math.floor((2 * size) / 3)],
        [`bytes=-${Math.ceil(size / 2)}`, size - Math.ceil(size / 2), size - 1],
        [`bytes=${size - 1}-`, size - 1, size - 1],
        [`bytes=${Math.floor(size / 2)}-${size * 2}`, Math.floor(size / 2), size - 1],
      ];
      for (const [range, start, end] of cases) {
        it(`should send ${range} of ${size} bytes exactly`, async () => {
          const res = await get(file, { range });
          assert.equal(res.status, 206);
          assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${size}`);
          assert.equal(res.headers['content-length'], String(end - start + 1));
          assert.equal(sha256(res.body), sha256(fx.bytes(file).subarray(start, end + 1)));
        });
      }
    }

    it('should answer 416 with Content-Range bytes */size when unsatisfiable', async () => {
      const res = await get('/size-4095.bin', { range: 'bytes=5000-6000' });
      assert.equal(res.status, 416);
      assert.equal(res.headers['content-range'], 'bytes */4095');
    });

    it('should ignore a malformed Range and send the whole file', async () => {
      const res = await get('/size-4095.bin', { range: 'bytes=abc' });
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 4095);
    });

    it('should send several ranges as multipart/byteranges, part by part', async () => {
      const file = '/size-1048579.bin';
      const data = fx.bytes(file);
      const res = await get(file, { range: 'bytes=0-99,1000-1999,-500' });
      assert.equal(res.status, 206);
      const type = String(res.headers['content-type']);
      const boundary = /boundary=(\S+)/.exec(type)?.[1];
      assert.ok(type.startsWith('multipart/byteranges') && boundary, type);
      assert.equal(res.headers['content-length'], String(res.body.length));
      const parts = parseMultipart(res.body, boundary);
      assert.deepEqual(
        parts.map((p) => p.range),
        ['bytes 0-99/1048579', 'bytes 1000-1999/1048579', 'bytes 1048079-1048578/1048579'],
      );
      assert.ok(parts[0] && parts[0].body.equals(data.subarray(0, 100)));
      assert.ok(parts[1] && parts[1].body.equals(data.subarray(1000, 2000)));
      assert.ok(parts[2] && parts[2].body.equals(data.subarray(1048079)));
    });
  });

  describe('with HEAD request', () => {
    it('should send the headers of GET and no body', async () => {
      const res = await get('/size-65537.bin', {}, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '65537');
      assert.equal(res.body.length, 0);
    });
  });
});

function parseMultipart(body: Buffer, boundary: string): Array<{ range: string; body: Buffer }> {
  const parts: Array<{ range: string; body: Buffer }> = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const headStart = at + delimiter.length;
    if (body.subarray(headStart, headStart + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', headStart);
    const head = body.subarray(headStart, headEnd).toString('latin1');
    const range = /content-range: (.*)/i.exec(head)?.[1]?.trim() ?? '';
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headEnd + 4);
    parts.push({ range, body: body.subarray(headEnd + 4, next) });
    at = next + 2;
  }
  return parts;
}
