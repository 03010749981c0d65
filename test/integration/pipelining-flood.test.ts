// One client must not take the server's file descriptors or memory, on
// every engine: concurrent cold opens of one file share one descriptor, a
// queued pipelined response opens nothing before its turn, and a connection
// that pipelines without reading has only a bounded number of requests
// taken off it at a time. Everything asked for is still answered, exactly.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type * as net from 'node:net';
import * as path from 'node:path';
import { createServer, type SluiceServer } from '../../server/src/index';
import { fdsUnder, scratchDir } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { forEachEngine } from '../helpers/server';

const BIG = 32 * 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh root (cold for the process-wide file table): a sparse big file and `small` small ones. */
function coldRoot(small: number): string {
  const root = scratchDir();
  const big = path.join(root, 'big.bin');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, BIG);
  for (let i = 0; i < small; i++) fs.writeFileSync(path.join(root, `f-${i}.txt`), `file ${i}\n`);
  return root;
}

interface Started {
  server: SluiceServer;
  port: number;
  /** 'request' events the server has emitted so far. */
  requests(): number;
}

async function start(root: string, engine: string): Promise<Started> {
  const server = createServer(root, { engine: engine as 'auto' });
  let requests = 0;
  server.on('request', () => requests++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, requests: () => requests };
}

async function stop(s: Started): Promise<void> {
  s.server.closeAllConnections();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

/** Waits until `cond` holds, for at most `ms`. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
}

forEachEngine('a pipelining flood', (engine) => {
  it('should share one descriptor among concurrent cold opens of one file', async () => {
    const root = coldRoot(0);
    const s = await start(root, engine);
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 30; i++) sockets.push(await connect(s.port));
      // Nobody reads: every transfer stays pending, holding its file.
      for (const socket of sockets) {
        socket.pause();
        socket.write(requestText('GET', '/big.bin'));
      }
      await until(() => s.requests() === 30, 5000);
      await sleep(200);
      assert.deepEqual(fdsUnder(root), [path.join(root, 'big.bin')]);
      const reading = readResponses(sockets[0] as net.Socket, 1);
      sockets[0]?.resume();
      const [res] = await reading;
      assert.equal(res?.body.length, BIG);
    } finally {
      for (const socket of sockets) socket.destroy();
      await stop(s);
    }
  });

  it('should open no file for a queued pipelined response before its turn', async () => {
    const root = coldRoot(200);
    const s = await start(root, engine);
    const socket = await connect(s.port);
    try {
      socket.pause();
      let batch = requestText('GET', '/big.bin');
      for (let i = 0; i < 200; i++) batch += requestText('GET', `/f-${i}.txt`);
      socket.write(batch);
      await until(() => s.requests() === 201, 5000);
      await sleep(200);
      assert.equal(s.requests(), 201);
      // Only the response whose turn it is holds a file.
      assert.deepEqual(fdsUnder(root), [path.join(root, 'big.bin')]);
      const reading = readResponses(socket, 201);
      socket.resume();
      const responses = await reading;
      assert.equal(responses[0]?.body.length, BIG);
      responses.slice(1).forEach((res, i) => {
        assert.equal(res.status, 200);
        assert.equal(res.body.toString(), `file ${i}\n`);
      });
    } finally {
      socket.destroy();
      await stop(s);
    }
  });

  it('should take a bounded number of requests off a connection that reads nothing, and answer all of them', async function () {
    this.timeout(30_000);
    const root = coldRoot(1);
    const s = await start(root, engine);
    const socket = await connect(s.port);
    const COUNT = 10_000;
    try {
      socket.pause();
      socket.write(requestText('GET', '/big.bin') + requestText('GET', '/f-0.txt').repeat(COUNT));
      await sleep(500);
      // Node parses what one read brings in (64 KiB: some 1,600 requests of
      // this size), so the bound is a few reads, not the 16 queued.
      assert.ok(s.requests() < COUNT / 2, `${s.requests()} of ${COUNT + 1} requests taken while the client read nothing`);
      const reading = readResponses(socket, COUNT + 1);
      socket.resume();
      const responses = await reading;
      assert.equal(responses[0]?.body.length, BIG);
      for (const res of responses.slice(1)) assert.equal(res.body.toString(), 'file 0\n');
      assert.equal(s.requests(), COUNT + 1);
    } finally {
      socket.destroy();
      await stop(s);
    }
  });
});
