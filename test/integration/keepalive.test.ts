// Keep-alive and pipelining on every engine: responses in order and exact.
import { strict as assert } from 'node:assert';
import { Client } from 'undici';
import { fixtures, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { handoffStats } from '../../server/src/engines/socket';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

forEachEngine('connections', (engine) => {
  const fx = fixtures();
  let server: TestServer;
  before(async () => {
    server = await startServer(fx.root, { engine });
  });
  after(() => server.close());

  it('should serve 100 mixed requests on one kept-alive connection', async () => {
    const client = new Client(server.url, { pipelining: 1 });
    let connects = 0;
    client.on('connect', () => connects++);
    try {
      const big = fx.bytes('/size-1048579.bin');
      const first = await client.request({ path: '/hello.txt', method: 'GET' });
      await first.body.arrayBuffer();
      const etag = String(first.headers.etag);
      for (let i = 0; i < 100; i++) {
        const kind = i % 4;
        if (kind === 0) {
          const res = await client.request({ path: '/size-1048579.bin', method: 'GET' });
          assert.equal(res.statusCode, 200);
          assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(big));
        } else if (kind === 1) {
          const res = await client.request({ path: '/size-1048579.bin', method: 'GET', headers: { range: `bytes=${i}-${i * 1000}` } });
          assert.equal(res.statusCode, 206);
          assert.ok(Buffer.from(await res.body.arrayBuffer()).equals(big.subarray(i, i * 1000 + 1)));
        } else if (kind === 2) {
          const res = await client.request({ path: '/hello.txt', method: 'GET', headers: { 'if-none-match': etag } });
          assert.equal(res.statusCode, 304);
          await res.body.arrayBuffer();
        } else {
          const res = await client.request({ path: `/missing-${i}`, method: 'GET' });
          assert.equal(res.statusCode, 404);
          await res.body.arrayBuffer();
        }
      }
      assert.equal(connects, 1, 'all requests should share one connection');
    } finally {
      await client.close();
    }
  });

  it('should send head and body together from the addon when the socket is idle, in order', async function () {
    if (engine === 'copy') return this.skip();
    // With the front door on (the default), it sends these heads and
    // bodies, not the engine: this runs under SLUICE_TEST_FRONT_DOOR=0.
    if (server.frontDoor) return this.skip();
    const client = new Client(server.url, { pipelining: 1 });
    try {
      const before = handoffStats.headsTaken;
      for (let i = 0; i < 20; i++) {
        const path = i % 2 ? '/size-1048579.bin' : '/size-65537.bin';
        const res = await client.request({ path, method: 'GET' });
        assert.equal(res.statusCode, 200);
        assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(fx.bytes(path)));
      }
      assert.equal(handoffStats.headsTaken - before, 20, 'every response on an idle socket should take the head train');
    } finally {
      await client.close();
    }
  });

  it('should answer a pipelined batch in order, with a large file in the middle', async () => {
    const batch: Array<{ path: string; method: string; headers?: Record<string, string> }> = [
      { path: '/hello.txt', method: 'GET' },
      { path: '/size-65537.bin', method: 'GET', headers: { range: 'bytes=100-60000' } },
      { path: '/missing', method: 'GET' },
      { path: '/size-67108864.bin', method: 'GET' },
      { path: '/size-4095.bin', method: 'HEAD' },
      { path: '/size-1048579.bin', method: 'GET' },
      { path: '/size-0.bin', method: 'GET' },
      { path: '/dir/sub/page.txt', method: 'GET' },
      { path: '/size-1.bin', method: 'GET' },
    ];
    const socket = await connect(server.port);
    try {
      socket.write(batch.map((r) => requestText(r.method, r.path, r.headers)).join(''));
      const responses = await readResponses(
        socket,
        batch.length,
        batch.map((r) => r.method === 'HEAD'),
        60_000,
      );
      const expect = (i: number, status: number, body: Buffer): void => {
        const res = responses[i];
        assert.ok(res, `response ${i}`);
        assert.equal(res.status, status, `status of response ${i}`);
        assert.equal(sha256(res.body), sha256(body), `body of response ${i}`);
      };
      expect(0, 200, fx.bytes('/hello.txt'));
      expect(1, 206, fx.bytes('/size-65537.bin').subarray(100, 60001));
      assert.equal(responses[2]?.status, 404);
      expect(3, 200, fx.bytes('/size-67108864.bin'));
      expect(4, 200, Buffer.alloc(0));
      assert.equal(responses[4]?.headers['content-length'], '4095');
      expect(5, 200, fx.bytes('/size-1048579.bin'));
      expect(6, 200, Buffer.alloc(0));
      expect(7, 200, fx.bytes('/dir/sub/page.txt'));
      expect(8, 200, fx.bytes('/size-1.bin'));
    } finally {
      socket.destroy();
    }
  });
});
