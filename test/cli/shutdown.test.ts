// Graceful shutdown: SIGTERM stops accepting, lets a transfer in flight
// finish, and exits 0.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fixtures, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { engineCases } from '../helpers/server';

const CLI = path.resolve(__dirname, '..', '..', '..', 'dist', 'cli.js');

describe('when the server gets SIGTERM', () => {
  for (const c of engineCases().filter((e) => e.available)) {
    it(`should finish the download in flight and exit 0 [engine ${c.name}]`, async function () {
      this.timeout(30_000);
      const fx = fixtures();
      const child = spawn(process.execPath, [CLI, fx.root, '--port', '0', '--engine', c.name], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const port = await new Promise<number>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
            if (m) resolve(Number(m[1]));
          });
          child.once('exit', () => reject(new Error('exited early')));
        });
        const socket = await connect(port);
        socket.pause();
        socket.write(requestText('GET', '/size-67108864.bin'));
        // The client holds the transfer open while the signal arrives.
        await new Promise((r) => setTimeout(r, 300));
        child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 300));
        // New connections are refused once the listener is closed.
        await assert.rejects(connect(port));
        const reading = readResponses(socket, 1, [], 20_000);
        socket.resume();
        const [res] = await reading;
        assert.equal(res?.status, 200);
        assert.equal(sha256(res?.body ?? Buffer.alloc(0)), sha256(fx.bytes('/size-67108864.bin')));
        socket.destroy();
        assert.equal(await exited, 0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
