// The front door against the server without it: the same corpus of raw
// requests (every fixture, HEAD, conditionals, codings, HTTP/1.0, odd and
// malformed heads, pipelined batches, half-closes) must give the same bytes
// on both, but for the Date values, whether a reply is replayed through
// Node or sent again from the addon's kept replies. Then what the front
// door must not change: connection counts, timeouts, close, descriptors.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createServer, frontDoorAware, type SluiceServer } from '../../server/src/index';
import { frontDoorUnavailableReason } from '../../server/src/engines/front-door';
import { loopThreadCpuMs } from '../helpers/cpu';
import { eventually } from '../helpers/eventually';
import { fixtures, openFdCount, scratchDir, sha256 } from '../helpers/fixtures';

const REASON = frontDoorUnavailableReason();

/** Sends `bytes`, half-closes, and resolves with everything the server sent until it closed. */
function exchange(port: number, bytes: string | Buffer, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms after ${JSON.stringify(String(bytes).slice(0, 80))}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a reset after the answer is part of what is compared
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.end(bytes);
  });
}

/** Waits for this process's descriptors to be back at `baseline` or fewer. */
function fdsBackTo(baseline: number, ms = 5000): Promise<void> {
  return eventually(
    () => openFdCount() <= baseline,
    ms,
    () => `fd count back to ${baseline} (now ${openFdCount()})`,
  );
}

/** Sends `bytes` without half-closing, and resolves with what came back and any socket error, once the server closed. */
function exchangeNoEnd(port: number, bytes: string): Promise<{ bytes: Buffer; error: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error = '';
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve({ bytes: Buffer.concat(chunks), error }));
    socket.write(bytes);
  });
}

/** The response stream with every Date value blanked (the one field allowed to differ). */
function undated(raw: Buffer): string {
  return raw.toString('latin1').replace(/\r\nDate: [^\r]*\r\n/g, '\r\nDate: -\r\n');
}

async function listen(root: string, frontDoor: boolean, extra: object = {}): Promise<{ server: SluiceServer; port: number }> {
  const server = createServer(root, { frontDoor, ...extra });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

function closeServer(server: SluiceServer): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

const get = (target: string, fields = ''): string => `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${fields}\r\n`;

/** The corpus: each entry one connection's worth of bytes. */
function corpus(etag: string, lastModified: string): string[] {
  const files = [
    '/size-0.bin',
    '/size-1.bin',
    '/size-4095.bin',
    '/size-65536.bin',
    '/size-65537.bin',
    '/size-1048579.bin',
    '/hello.txt',
    '/style.css',
    '/data.json',
    '/index.html',
    '/dir/',
    '/dir/sub/page.txt',
  ];
  const out: string[] = [];
  for (const f of files) {
    out.push(get(f), `HEAD ${f} HTTP/1.1\r\nHost: localhost\r\n\r\n`, get(f, 'Accept-Encoding: gzip, br\r\n'), `GET ${f} HTTP/1.0\r\n\r\n`);
  }
  out.push(
    get('/hello.txt', `If-None-Match: ${etag}\r\n`),
    get('/hello.txt', 'If-None-Match: "other"\r\n'),
    get('/hello.txt', `If-Modified-Since: ${lastModified}\r\n`),
    get('/hello.txt', 'Range: bytes=0-3\r\n'),
    get('/hello.txt', `If-Match: ${etag}\r\n`),
    get('/hello.txt', 'Connection: close\r\n'),
    'GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    get('/hello.txt?query=1&x=%20'),
    get('/space%20name.txt'),
    get('/nope.txt'),
    get('/dir'),
    get('/noindex/'),
    get('/.secret'),
    get('/.hidden-dir/file.txt'),
    get('/%2e%2e/outside.txt'),
    get('/../outside.txt'),
    get('/hello.txt%00'),
    get('/dir/%2e%2e/hello.txt'),
    'GET http://localhost/hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n',
    'GET /hello.txt HTTP/1.1\r\n\r\n',
    'POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n',
    'OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n',
    'DELETE /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n',
    get('/hello.txt', 'Expect: 100-continue\r\n'),
    get('/hello.txt', 'Transfer-Encoding: chunked\r\n') + '0\r\n\r\n',
    get('/hello.txt', 'Content-Length: 1\r\nContent-Length: 2\r\n') + 'x',
    get('/hello.txt', 'X-Folded: a\r\n b\r\n'),
    'GET /hello.txt HTTP/1.1\nHost: localhost\n\n',
    'GET /hello.txt HTTP/1.1\r\nHost: local\rhost\r\n\r\n',
    'GET /hello.txt HTTP/1.1\r\nHost : localhost\r\n\r\n',
    'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX: \u0000\r\n\r\n',
    'GET /hello.txt HTTP/2.0\r\nHost: localhost\r\n\r\n',
    'get /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n',
    `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    get('/hello.txt', `X-Long: ${'b'.repeat(7000)}\r\n`),
    get('/hello.txt') + get('/style.css') + `HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n` + get('/size-65537.bin'),
    get('/hello.txt') + 'POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc' + get('/hello.txt'),
    get('/hello.txt') + get('/hello.txt', 'Range: bytes=2-\r\n') + get('/data.json'),
    get('/hello.txt') + 'GARBAGE\r\n\r\n',
    get('/hello.txt', 'Connection: close\r\n') + get('/style.css'),
    get('/hello.txt') + 'GET /style.css HTTP/1.1\r\nHost: loc',
    '',
  );
  return out;
}

describe('front door', function () {
  if (REASON !== '') {
    it.skip(`skipped: no front door here (${REASON})`, () => {});
    return;
  }
  this.timeout(120_000);
  const fx = fixtures();
  let off: { server: SluiceServer; port: number };
  let on: { server: SluiceServer; port: number };
  before(async () => {
    off = await listen(fx.root, false);
    on = await listen(fx.root, true);
  });
  after(async () => {
    await closeServer(off.server);
    await closeServer(on.server);
  });

  describe('with the same corpus of requests as without it', () => {
    it('should send the same bytes, replayed and kept alike', async () => {
      const probe = await exchange(off.port, get('/hello.txt'));
      const etag = /\r\nETag: ([^\r]*)/.exec(probe.toString('latin1'))?.[1] ?? '';
      const lastModified = /\r\nLast-Modified: ([^\r]*)/.exec(probe.toString('latin1'))?.[1] ?? '';
      const before = on.server.sluice.frontDoor?.stats();
      for (const bytes of corpus(etag, lastModified)) {
        const expected = undated(await exchange(off.port, bytes));
        // Twice: the first is replayed through Node, the second may come
        // from a kept reply.
        for (const round of ['first', 'second']) {
          const got = undated(await exchange(on.port, bytes));
          assert.equal(got, expected, `${round} time: ${JSON.stringify(bytes.slice(0, 120))}`);
        }
      }
      const after = on.server.sluice.frontDoor?.stats();
      assert.ok(after !== undefined && before !== undefined);
      assert.ok(after.hits - before.hits >= 12, `kept replies were used (${after.hits - before.hits} hits)`);
      assert.ok(after.handovers - before.handovers >= 20, `odd requests went to Node (${after.handovers - before.handovers})`);
    });

    it('should serve 64 MiB exactly on a kept connection', async () => {
      const file = '/size-67108864.bin';
      const raw = await exchange(on.port, get(file) + get(file, 'Connection: close\r\n'));
      const text = raw.toString('latin1');
      const first = text.indexOf('\r\n\r\n') + 4;
      const second = text.indexOf('\r\n\r\n', first + 64 * 1024 * 1024) + 4;
      const want = sha256(fx.bytes(file));
      assert.equal(sha256(raw.subarray(first, first + 64 * 1024 * 1024)), want);
      assert.equal(sha256(raw.subarray(second)), want);
    });
  });

  describe('with mutated request heads', () => {
    it('should send what Node sends for each, twice', async () => {
      // Byte-level mutations of plain heads (a fixed seed, so a failure
      // repeats): whatever the classifier makes of them, the answer on the
      // wire is Node's.
      const seeds = [get('/hello.txt', 'Accept: */*\r\n'), `HEAD /style.css HTTP/1.0\r\nUser-Agent: x\r\n\r\n`, get('/dir/', 'If-None-Match: "x"\r\n')];
      const alphabet = '\r\n\t :/"#%*-.GETHADPOS01a\u0000\u007f\u00ff';
      let state = 0x5eed;
      const next = (n: number): number => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state % n;
      };
      for (let i = 0; i < 150; i++) {
        let head = seeds[next(seeds.length)];
        for (let edits = 1 + next(3); edits > 0; edits--) {
          const at = next(head.length);
          const ch = alphabet[next(alphabet.length)];
          head = next(2) === 0 ? head.slice(0, at) + ch + head.slice(at + 1) : head.slice(0, at) + ch + head.slice(at);
        }
        const bytes = Buffer.from(head + head, 'latin1');
        const expected = undated(await exchange(off.port, bytes));
        assert.equal(undated(await exchange(on.port, bytes)), expected, JSON.stringify(head));
      }
    });
  });

  describe('when a file changes', () => {
    it('should never send a kept reply past the version it was made from', async () => {
      const dir = scratchDir();
      const file = path.join(dir, 'changing.txt');
      fs.writeFileSync(file, 'version one\n');
      const door = await listen(dir, true);
      try {
        const first = await exchange(door.port, get('/changing.txt'));
        assert.match(first.toString('latin1'), /version one\n$/);
        fs.writeFileSync(file, 'version two, longer\n');
        // The file table trusts a stat for a second: within that the old
        // version may still be served, never a mix, and never after it.
        await new Promise((r) => setTimeout(r, 1100));
        const second = (await exchange(door.port, get('/changing.txt'))).toString('latin1');
        assert.match(second, /Content-Length: 20\r\n[\s\S]*version two, longer\n$/);
      } finally {
        await closeServer(door.server);
      }
    });
  });

  describe('for the server around it', () => {
    it('should count its connections in getConnections and let close() finish', async () => {
      const door = await listen(fx.root, true);
      const sockets = await Promise.all(
        Array.from(
          { length: 5 },
          () =>
            new Promise<net.Socket>((r) => {
              const s = net.connect(door.port, '127.0.0.1', () => r(s));
            }),
        ),
      );
      const count = (): Promise<number> => new Promise((r) => door.server.getConnections((_e, n) => r(n)));
      await eventually(() => door.server.sluice.frontDoor?.stats().connections === 5, 2000, 'the front door to hold 5 connections');
      assert.equal(await count(), 5);
      const closed = new Promise<void>((r) => door.server.close(() => r()));
      await closed; // idle connections are closed by close(), as Node closes its own
      for (const s of sockets) s.destroy();
    });

    it('should finish a download in flight when the server closes, a request pipelined behind it', async () => {
      const door = await listen(fx.root, true);
      const socket = net.connect(door.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let reset = '';
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', (err: NodeJS.ErrnoException) => (reset = err.code ?? err.message));
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      socket.pause();
      socket.write(get('/size-67108864.bin'));
      await eventually(() => door.server.sluice.frontDoor?.stats().writing === 1, 3000, 'the download to start');
      socket.write(get('/hello.txt'));
      await new Promise((r) => setTimeout(r, 100));
      const serverClosed = new Promise<void>((r) => door.server.close(() => r()));
      socket.resume();
      await closed;
      await serverClosed;
      assert.equal(reset, '', 'no reset');
      const raw = Buffer.concat(chunks);
      const start = raw.indexOf('\r\n\r\n') + 4;
      assert.ok(raw.length - start >= 64 * 1024 * 1024, `the whole download (${raw.length - start} body bytes)`);
      assert.equal(sha256(raw.subarray(start, start + 64 * 1024 * 1024)), sha256(fx.bytes('/size-67108864.bin')));
    });

    it('should end a Connection: close reply with a FIN, not a reset, when requests are pipelined behind it', async () => {
      for (let round = 0; round < 2; round++) {
        // Twice: the second reply is a kept one, sent without Node.
        const raw = await exchangeNoEnd(on.port, get('/size-1048579.bin', 'Connection: close\r\n') + get('/hello.txt').repeat(20));
        assert.equal(raw.error, '', `round ${round}: no reset`);
        const start = raw.bytes.indexOf('\r\n\r\n') + 4;
        assert.equal(raw.bytes.length - start, 1048579, `round ${round}: the whole reply and nothing after`);
      }
    });

    it('should step aside for good once a listener that expects every request is added', async () => {
      const door = await listen(fx.root, true);
      try {
        const held = net.connect(door.port, '127.0.0.1');
        const heldReplies: Buffer[] = [];
        held.on('data', (c: Buffer) => heldReplies.push(c));
        held.write(get('/hello.txt'));
        await eventually(() => Buffer.concat(heldReplies).includes('200 OK'), 3000, 'the first reply');
        const seen: string[] = [];
        door.server.on(
          'request',
          frontDoorAware(() => {}),
        );
        assert.equal(door.server.sluice.frontDoorNote, 'front door on', 'a marked listener changes nothing');
        door.server.on('request', (req: { url?: string; socket: net.Socket }) => seen.push(`${req.url} ${typeof req.socket.remoteAddress}`));
        assert.match(door.server.sluice.frontDoorNote, /^front door off \(a 'request' or 'connection' listener/);
        // The idle connection it held is Node's now, and so is every new one.
        held.write(get('/hello.txt'));
        await eventually(() => seen.length === 1, 3000, "Node to see the held connection's request");
        await exchange(door.port, get('/hello.txt'));
        assert.deepEqual(seen, ['/hello.txt string', '/hello.txt string']);
        assert.equal(door.server.sluice.frontDoor?.stats().connections, 0);
        held.destroy();
      } finally {
        await closeServer(door.server);
      }
    });

    it('should close an idle kept-alive connection after keepAliveTimeout, set before or after createServer', async () => {
      for (const late of [false, true]) {
        const server = createServer(fx.root, { frontDoor: true, ...(late ? {} : { keepAliveTimeout: 300 }) });
        if (late) server.keepAliveTimeout = 300;
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        await closesAfterKeepAlive({ server, port: (server.address() as net.AddressInfo).port });
      }
    });

    async function closesAfterKeepAlive(door: { server: SluiceServer; port: number }): Promise<void> {
      try {
        const socket = net.connect(door.port, '127.0.0.1');
        const started = Date.now();
        const closedAt = new Promise<number>((r) => socket.on('close', () => r(Date.now())));
        socket.on('data', () => {});
        socket.write(get('/hello.txt'));
        const at = await closedAt;
        assert.ok(at - started >= 250 && at - started < 3000, `closed after ${at - started} ms`);
        assert.equal(door.server.sluice.frontDoor?.stats().closed, 1, 'the front door held and closed it');
      } finally {
        await closeServer(door.server);
      }
    }

    it('should cut off a client that reads nothing after sendTimeout, and free its descriptors', async () => {
      const door = await listen(fx.root, true, { sendTimeout: 500 });
      try {
        await exchange(door.port, get('/size-1.bin'));
        const baseline = openFdCount();
        const socket = net.connect(door.port, '127.0.0.1');
        socket.pause();
        socket.write(get('/size-67108864.bin'));
        await eventually(() => door.server.sluice.frontDoor?.stats().writing === 1, 3000, 'the body to start');
        const before = loopThreadCpuMs();
        await eventually(() => door.server.sluice.frontDoor?.stats().connections === 0, 5000, 'the stalled client to be cut off');
        const cpuMs = loopThreadCpuMs() - before;
        assert.ok(cpuMs < 200, `no spinning while stalled (${cpuMs} ms of the event loop's CPU)`);
        socket.destroy();
        await fdsBackTo(baseline);
      } finally {
        await closeServer(door.server);
      }
    });

    it('should close every descriptor after 100 clients vanish mid-body', async () => {
      const big = '/size-67108864.bin';
      await exchange(on.port, get('/size-1.bin'));
      const baseline = openFdCount();
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) =>
            new Promise<void>((resolve) => {
              const socket = net.connect(on.port, '127.0.0.1', () => socket.write(get(big)));
              let got = 0;
              socket.on('data', (c: Buffer) => {
                got += c.length;
                if (got > 50_000 + i * 500) {
                  if (i % 2 === 0) socket.resetAndDestroy();
                  else socket.destroy();
                  resolve();
                }
              });
              socket.on('error', () => resolve());
            }),
        ),
      );
      await eventually(() => on.server.sluice.frontDoor?.stats().connections === 0, 10_000, 'the front door to let go of them');
      await fdsBackTo(baseline + 2, 10_000);
    });

    it('should hold a bounded number of descriptors for kept replies, and let them go when they expire', async () => {
      const door = await listen(fx.root, true);
      try {
        await exchange(door.port, get('/size-1.bin'));
        const baseline = openFdCount();
        // Heads that differ in one byte are different keys: each reply would
        // keep its own duplicate of the file's descriptor.
        const heads = Array.from({ length: 600 }, (_, i) => get('/size-1048579.bin', `X-Request: ${i}\r\n`));
        for (let i = 0; i < heads.length; i += 100) await exchange(door.port, heads.slice(i, i + 100).join(''), 30_000);
        const stats = door.server.sluice.frontDoor?.stats();
        assert.ok(stats !== undefined && stats.replyFiles > 0 && stats.replyFiles <= 256, `kept replies holding a file: ${stats?.replyFiles}`);
        assert.ok(openFdCount() <= baseline + 256 + 4, `fds ${openFdCount()} against ${baseline}`);
        // Nothing asks again: the tick drops them once their trust window ends.
        await eventually(() => door.server.sluice.frontDoor?.stats().replyFiles === 0, 5000, 'the kept replies to expire');
        await fdsBackTo(baseline);
      } finally {
        await closeServer(door.server);
      }
    });

    it('should close the connection short when the file shrinks while sent', async () => {
      const dir = scratchDir();
      const file = path.join(dir, 'shrinking.bin');
      fs.copyFileSync(fx.fileFor(64 * 1024 * 1024), file);
      const door = await listen(dir, true);
      try {
        const socket = net.connect(door.port, '127.0.0.1');
        let got = 0;
        const closed = new Promise<void>((r) => socket.on('close', () => r()));
        socket.on('error', () => {});
        socket.on('data', (c: Buffer) => {
          got += c.length;
          if (got > 1_000_000 && fs.statSync(file).size > 0) fs.truncateSync(file, 1024 * 1024);
        });
        socket.write(get('/shrinking.bin'));
        await closed;
        assert.ok(got < 64 * 1024 * 1024, `short body (${got} bytes)`);
        // The version is reopened at once (not after its trust window): the
        // very same head, and any other, get the file as it is now.
        for (const head of [get('/shrinking.bin'), get('/shrinking.bin', 'User-Agent: other\r\n')]) {
          const next = (await exchange(door.port, head)).toString('latin1');
          assert.match(next, /Content-Length: 1048576\r\n/);
          assert.equal(next.length - next.indexOf('\r\n\r\n') - 4, 1024 * 1024);
        }
      } finally {
        await closeServer(door.server);
      }
    });
  });
});
