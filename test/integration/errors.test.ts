// Errors before any byte is sent, on every engine: the right status, and
// never a path or a stack, neither in the page nor in the error handed to
// next(err). Out of file descriptors is 503 with Retry-After, and the
// server recovers.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { serveStatic } from '../../server/src/index';
import { scratchDir } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A root with what is not a regular file: a Unix socket (open gives ENXIO),
 * a FIFO, a character device without a driver (ENXIO too; only root may make
 * one), and a symlink to itself (ELOOP).
 */
async function makeRoot(): Promise<{ root: string; socketServer: net.Server; fifo: boolean; device: boolean }> {
  const root = scratchDir();
  fs.writeFileSync(path.join(root, 'ok.txt'), 'ok\n');
  const socketServer = net.createServer();
  await new Promise<void>((resolve) => socketServer.listen(path.join(root, 'a.sock'), resolve));
  let fifo = false;
  if (hasCommand('mkfifo')) {
    execFileSync('mkfifo', [path.join(root, 'a.fifo')]);
    fifo = true;
  }
  let device = false;
  if (process.getuid?.() === 0 && hasCommand('mknod')) {
    // Major 240 is reserved for local use: no driver answers it.
    execFileSync('mknod', [path.join(root, 'a.dev'), 'c', '240', '0']);
    device = true;
  }
  fs.symlinkSync('loop', path.join(root, 'loop'));
  return { root, socketServer, fifo, device };
}

forEachEngine('errors', (engine) => {
  let root: string;
  let socketServer: net.Server;
  let fifo: boolean;
  let device: boolean;
  let server: TestServer;
  let agent: Agent;
  before(async () => {
    ({ root, socketServer, fifo, device } = await makeRoot());
    server = await startServer(root, { engine });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await server.close();
    await new Promise<void>((resolve) => socketServer.close(() => resolve()));
  });

  const get = async (origin: string, target: string) => {
    const res = await agent.request({ origin, path: target, method: 'GET' });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  it('should answer 404 for a Unix socket, as for anything that is not a regular file', async () => {
    const res = await get(server.url, '/a.sock');
    assert.equal(res.status, 404);
    assert.ok(!res.body.includes(root) && !res.body.includes('a.sock'), res.body);
    assert.equal((await get(server.url, '/ok.txt')).status, 200);
  });

  it('should answer 404 for a device without a driver', async function () {
    if (!device) this.skip();
    assert.equal((await get(server.url, '/a.dev')).status, 404);
  });

  it('should answer 403 for a file that cannot be opened (ELOOP), with no path or stack', async () => {
    const res = await get(server.url, '/loop');
    assert.equal(res.status, 403);
    assert.match(res.body, /Forbidden/);
    assert.ok(!res.body.includes(root) && !res.body.includes('loop'), res.body);
    assert.ok(!/\bat .*\.js:\d+/.test(res.body), 'no stack');
  });

  it('should answer 404 for a FIFO rather than read it', async function () {
    if (!fifo) this.skip();
    const res = await get(server.url, '/a.fifo');
    assert.equal(res.status, 404);
  });

  it('should fall through for a Unix socket, and hand next(err) an open error that names no path, even with fallthrough', async () => {
    const seen: Array<{ status?: number; message: string; stack?: string; code?: string }> = [];
    const app = express();
    app.use(serveStatic(root, { engine }));
    app.use((_req, res) => {
      res.status(404).send('app 404');
    });
    app.use((err: Error & { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push(err);
      res.status(err.status ?? 500).send('app error');
    });
    const http = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => http.once('listening', () => resolve()));
    try {
      const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      assert.equal((await get(origin, '/a.sock')).body, 'app 404');
      assert.equal((await get(origin, '/loop')).status, 403);
      assert.equal((await get(origin, '/missing')).body, 'app 404');
      assert.equal(seen.length, 1);
      const [err] = seen;
      assert.ok(err);
      assert.equal(err.status, 403);
      assert.equal(err.code, 'ELOOP');
      assert.ok(!err.message.includes(root) && !String(err.stack).includes(root), String(err.stack));
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  describe('when the process runs out of file descriptors', () => {
    // A child under `ulimit -n`, so the test process keeps its own fds.
    const CHILD = `
      const fs = require('node:fs');
      const net = require('node:net');
      const express = require('express');
      const { serveStatic } = require(process.env.SLUICE_INDEX);
      const app = express();
      app.use(serveStatic(process.env.ROOT, { engine: process.env.ENGINE }));
      app.use((err, _req, res, _next) => {
        res.status(err.status || 500).set(err.headers || {}).send(JSON.stringify({ status: err.status, message: err.message }));
      });
      const server = app.listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1');
        server.once('connection', () => setImmediate(run));
        let buffered = '';
        client.on('data', (c) => { buffered += c.toString('latin1'); });
        const ask = () => new Promise((resolve) => {
          buffered = '';
          client.write('GET /ok.txt HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
          const poll = setInterval(() => {
            const end = buffered.indexOf('\\r\\n\\r\\n');
            if (end < 0) return;
            const length = Number(/content-length: (\\d+)/i.exec(buffered)[1]);
            if (buffered.length < end + 4 + length) return;
            clearInterval(poll);
            resolve(buffered);
          }, 5);
        });
        async function run() {
          const held = [];
          try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
          const exhausted = await ask();
          for (const fd of held) fs.closeSync(fd);
          const recovered = await ask();
          process.stdout.write(JSON.stringify({ exhausted, recovered }));
          process.exit(0);
        }
      });
    `;

    it('should forward 503 with Retry-After to next(err), then serve again', async function () {
      this.timeout(30_000);
      const child = spawn('sh', ['-c', 'ulimit -n 256 && exec "$0" -e "$1"', process.execPath, CHILD], {
        cwd: path.resolve(__dirname, '..', '..', '..'),
        env: { ...process.env, ROOT: root, ENGINE: engine, SLUICE_INDEX: path.resolve(__dirname, '..', '..', 'server', 'src', 'index.js') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let errOut = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (errOut += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, errOut);
      const { exhausted, recovered } = JSON.parse(out) as { exhausted: string; recovered: string };
      assert.match(exhausted, /^HTTP\/1\.1 503 /);
      assert.match(exhausted, /\r\nretry-after: 1\r\n/i);
      assert.match(exhausted, /"status":503/);
      assert.ok(!exhausted.includes(root), exhausted);
      assert.match(recovered, /^HTTP\/1\.1 200 /);
      assert.ok(recovered.endsWith('ok\n'));
    });
  });
});
