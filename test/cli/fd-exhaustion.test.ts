// Out of file descriptors: requests that need a new fd get 503 with
// Retry-After, connections that cannot be accepted are closed (never left
// hanging), and the server recovers by itself when fds free up.
import { strict as assert } from 'node:assert';
import type * as net from 'node:net';
import { CLI, startCli, type StartedCli } from '../helpers/cli';
import { fixtures } from '../helpers/fixtures';
import { connect, readResponses, requestText, type RawResponse } from '../helpers/raw-http';

const FD_LIMIT = 64;

function startLimited(root: string): Promise<StartedCli> {
  return startCli([], 'bash', ['-c', `ulimit -n ${FD_LIMIT} && exec "${process.execPath}" "${CLI}" "${root}" --port 0`]);
}

/** One request on `socket`; null if the connection closed instead. */
async function ask(socket: net.Socket, target: string): Promise<RawResponse | null> {
  socket.write(requestText('GET', target));
  try {
    const [res] = await readResponses(socket, 1, [], 5000);
    return res ?? null;
  } catch (err) {
    if (/timed out/.test(String(err))) throw err;
    return null;
  }
}

describe('when the server runs out of file descriptors', () => {
  it('should answer 503 with Retry-After, close what it cannot accept, and recover', async function () {
    this.timeout(60_000);
    const fx = fixtures();
    const { child, port } = await startLimited(fx.root);
    const sockets: net.Socket[] = [];
    try {
      // Fill the fd table with kept-alive connections; a 404 opens no file
      // for long. Full shows as a 503 (open fails) or a closed connection.
      let full = false;
      for (let i = 0; i < FD_LIMIT * 2 && !full; i++) {
        const socket = await connect(port);
        sockets.push(socket);
        const res = await ask(socket, '/missing');
        if (res === null) sockets.pop()?.destroy();
        full = res === null || res.status === 503;
        if (res && !full) assert.equal(res.status, 404);
      }
      assert.ok(full, 'the server accepted more connections than its fd limit allows');

      // A file needs one more fd: none is left.
      const busy = await ask(sockets[0] as net.Socket, '/hello.txt');
      assert.ok(busy, 'connection closed instead of a 503');
      assert.equal(busy.status, 503);
      assert.equal(busy.headers['retry-after'], '1');

      // A connection that cannot be accepted is closed, not left hanging.
      const extra = await connect(port).catch(() => null);
      if (extra) {
        sockets.push(extra);
        const res = await ask(extra, '/hello.txt');
        assert.ok(res === null || res.status === 503, `got ${res?.status}`);
      }

      // Free some fds: the same request now succeeds on a live connection.
      for (const socket of sockets.splice(2, 8)) socket.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const ok = await ask(sockets[1] as net.Socket, '/hello.txt');
      assert.ok(ok);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.toString(), 'hello, world\n');
    } finally {
      for (const socket of sockets) socket.destroy();
      child.kill('SIGKILL');
    }
  });
});
