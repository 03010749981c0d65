// A client that half-closes (shutdown(SHUT_WR) after its requests) still
// gets every response it asked for, in full and in order, on every engine;
// then the server closes the connection.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fixtures, scratchDir, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

forEachEngine('a half-closed connection', (engine) => {
  const fx = fixtures();
  // Cold files of its own (8 MiB outgrows every socket buffer), and warm ones.
  const cold = scratchDir();
  const big = randomBytes(8 * 1024 * 1024);
  fs.writeFileSync(path.join(cold, 'big.bin'), big);
  fs.writeFileSync(path.join(cold, 'small.txt'), 'small\n');
  let server: TestServer;
  let coldServer: TestServer;
  before(async () => {
    server = await startServer(fx.root, { engine });
    coldServer = await startServer(cold, { engine });
  });
  after(async () => {
    await server.close();
    await coldServer.close();
  });

  it('should answer every pipelined request sent before the FIN, in full, then close', async () => {
    const socket = await connect(coldServer.port);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(requestText('GET', '/big.bin') + requestText('GET', '/small.txt') + requestText('GET', '/big.bin', { range: 'bytes=1000-1999' }));
    socket.end();
    const [a, b, c] = await readResponses(socket, 3, [], 20_000);
    assert.equal(a?.status, 200);
    assert.equal(sha256(a?.body ?? Buffer.alloc(0)), sha256(big));
    assert.equal(b?.body.toString(), 'small\n');
    assert.equal(c?.status, 206);
    assert.ok(c?.body.equals(big.subarray(1000, 2000)));
    socket.resume();
    await closed;
  });

  it('should answer a single request whose FIN comes with it, on warm files too', async () => {
    for (const target of ['/size-1048579.bin', '/hello.txt', '/size-67108864.bin']) {
      const socket = await connect(server.port);
      socket.end(requestText('GET', target));
      const [res] = await readResponses(socket, 1, [], 20_000);
      assert.equal(res?.status, 200, target);
      assert.equal(sha256(res?.body ?? Buffer.alloc(0)), sha256(fx.bytes(target)), target);
      socket.destroy();
    }
  });
});
