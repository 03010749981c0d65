// Contract tests for the io_uring engine's binding (uringSend, cancel,
// uringStats, uringProbe) over real loopback TCP sockets and temp files.
// The server side of each connection is a Node socket whose fd the addon
// duplicates, as the engine does with an HTTP response's socket.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';
import { native, type NativeBinding, type NativeSegment } from '../../server/src/native';
import { loopThreadCpuMs } from '../helpers/cpu';
import { eventually } from '../helpers/eventually';
import { openFdCount, sha256 } from '../helpers/fixtures';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ECANCELED = -os.constants.errno.ECANCELED;
const EEXIST = -os.constants.errno.EEXIST;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The io_uring probe of this process, run once. */
function uringReason(): string {
  const binding = native.binding;
  if (!binding) return native.reason;
  const { rc, syscall } = binding.uringProbe();
  return rc === 0 ? '' : `${syscall}: ${getSystemErrorName(rc)}`;
}

/** Ids far from the ones the engines hand out in the same process. */
let nextId = 1_000_000_000;

interface Pair {
  /** Node's server-side socket: the addon duplicates its fd. */
  server: net.Socket;
  /** The reading end, paused until a test resumes it. */
  client: net.Socket;
  fd: number;
}

interface Outcome {
  status: number;
  total: number;
}

interface Started {
  id: number;
  /** uringSend's return value. */
  status: number;
  /** Resolves with the callback's arguments (only when status is PENDING). */
  done: Promise<Outcome>;
  /** How many times the callback has run so far. */
  calls: () => number;
}

/** Everything the client receives until the server ends or the socket closes. */
function collect(client: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => client.once('close', () => resolve(Buffer.concat(chunks))));
}

/** Bytes a body of `segments` over `file` must produce. */
function expected(file: Buffer, segments: NativeSegment[]): Buffer {
  return Buffer.concat(segments.map((s) => (Buffer.isBuffer(s) ? s : file.subarray(s[1], s[1] + s[2]))));
}

describe('native io_uring engine', function () {
  const reason = uringReason();
  if (reason !== '') {
    it.skip(`skipped: io_uring unavailable (${reason})`, () => {});
    return;
  }
  const binding = native.binding as NativeBinding;

  let dir: string;
  let filePath: string;
  let file: Buffer;
  let fileFd: number;
  let listener: net.Server;
  let port: number;
  const waiting: Array<(socket: net.Socket) => void> = [];
  const sockets = new Set<net.Socket>();

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-uring-'));
    filePath = path.join(dir, 'data.bin');
    file = randomBytes(8 * 1024 * 1024 + 3);
    fs.writeFileSync(filePath, file);
    fileFd = fs.openSync(filePath, 'r');
    listener = net.createServer((socket) => {
      const resolve = waiting.shift();
      if (resolve) resolve(socket);
      else socket.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    port = (listener.address() as net.AddressInfo).port;
  });

  after(async () => {
    fs.closeSync(fileFd);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => listener.close(r));
  });

  afterEach(async () => {
    // Every test must leave the engine empty: no SQE, transfer or pipe.
    await eventually(() => binding.uringStats().transfers === 0, 5000, () => `uringStats ${JSON.stringify(binding.uringStats())}`);
    assert.deepEqual(binding.uringStats(), { inFlight: 0, transfers: 0, pipes: 0 });
  });

  async function pair(): Promise<Pair> {
    const accepted = new Promise<net.Socket>((r) => waiting.push(r));
    const client = net.connect(port, '127.0.0.1');
    client.pause();
    await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
    const server = await accepted;
    server.on('error', () => {});
    client.on('error', () => {});
    for (const socket of [server, client]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    return { server, client, fd };
  }

  function start(fd: number, segments: NativeSegment[], maxChunk = 2 * 1024 * 1024, id = nextId++): Started {
    let calls = 0;
    let resolve: (o: Outcome) => void = () => {};
    const done = new Promise<Outcome>((r) => (resolve = r));
    const status = binding.uringSend(fd, segments, maxChunk, id, (s, total) => {
      calls++;
      resolve({ status: s, total });
    });
    return { id, status, done, calls: () => calls };
  }

  /** Sends `segments` to a reading client and checks every byte. */
  async function sendExact(segments: NativeSegment[], maxChunk?: number): Promise<void> {
    const { server, client, fd } = await pair();
    const received = collect(client);
    client.resume();
    const t = start(fd, segments, maxChunk);
    const want = expected(file, segments);
    // Literal bytes that all fit in the socket go out within the call.
    const literalOnly = segments.every((s) => Buffer.isBuffer(s));
    if (literalOnly && t.status === binding.DONE) {
      await sleep(20);
      assert.equal(t.calls(), 0, 'no callback after a synchronous finish');
    } else {
      assert.equal(t.status, binding.PENDING);
      assert.deepEqual(await t.done, { status: binding.DONE, total: want.length });
      assert.equal(t.calls(), 1);
    }
    server.end();
    const got = await received;
    assert.equal(got.length, want.length);
    assert.equal(sha256(got), sha256(want));
  }

  describe('when the body is sent whole', () => {
    it('should send a whole file exactly', async () => {
      await sendExact([[fileFd, 0, file.length]]);
    });

    it('should send an unaligned range exactly, in chunks no larger than maxChunk', async () => {
      await sendExact([[fileFd, 4097, 3 * 1024 * 1024 + 5]], 65537);
    });

    it('should send literal and file segments in order (multipart)', async () => {
      const segments: NativeSegment[] = [
        Buffer.from('\r\n--b\r\nContent-Range: bytes 0-99/x\r\n\r\n'),
        [fileFd, 0, 100],
        Buffer.from('\r\n--b\r\nContent-Range: bytes 5000-1504999/x\r\n\r\n'),
        [fileFd, 5000, 1_500_000],
        Buffer.from(''),
        [fileFd, 7, 0],
        Buffer.from('\r\n--b\r\n'),
        [fileFd, file.length - 500, 500],
        Buffer.from('\r\n--b--\r\n'),
      ];
      await sendExact(segments);
    });

    it('should send a body of literal bytes only', async () => {
      await sendExact([Buffer.from('only literal bytes'), Buffer.alloc(100_000, 7)]);
    });

    it('should finish an empty body in the call, without a callback', async () => {
      const { server, fd } = await pair();
      const t = start(fd, [[fileFd, 0, 0], Buffer.alloc(0)]);
      assert.equal(t.status, binding.DONE);
      await sleep(50);
      assert.equal(t.calls(), 0);
      server.destroy();
    });
  });

  describe('when called wrongly', () => {
    it('should refuse an id that is already pending with -EEXIST', async () => {
      const { server, client, fd } = await pair();
      const first = start(fd, [[fileFd, 0, file.length]]);
      assert.equal(first.status, binding.PENDING);
      const second = start(fd, [[fileFd, 0, 10]], undefined, first.id);
      assert.equal(second.status, EEXIST);
      assert.equal(binding.cancel(first.id), true);
      assert.equal((await first.done).status, ECANCELED);
      assert.equal(second.calls(), 0);
      server.destroy();
      client.destroy();
    });

    it('should throw a TypeError for a malformed segment', () => {
      assert.throws(() => binding.uringSend(0, [[1, 2]] as unknown as NativeSegment[], 1, nextId++, () => {}), TypeError);
      assert.throws(() => binding.uringSend(0, [], 0, nextId++, () => {}), TypeError);
      assert.throws(() => binding.uringSend(0, [], 1, nextId++, null as unknown as () => void), TypeError);
    });
  });

  describe('when the reader is slow', () => {
    it('should wait on POLL_ADD without spinning, then complete exactly', async () => {
      const { server, client, fd } = await pair();
      const received = collect(client);
      const t = start(fd, [[fileFd, 0, file.length]]);
      assert.equal(t.status, binding.PENDING);
      await sleep(200); // let the socket buffers fill
      const stats = binding.uringStats();
      assert.equal(stats.transfers, 1);
      assert.ok(stats.inFlight > 0, 'a POLL_ADD should be waiting');
      const before = loopThreadCpuMs();
      await sleep(1000);
      const cpuMs = loopThreadCpuMs() - before;
      // Resumed first, so a failure here does not leave the transfer behind.
      client.resume();
      assert.ok(cpuMs < 50, `${cpuMs.toFixed(1)} ms of the event loop's CPU while the reader stalled for 1 s`);
      assert.equal(t.calls(), 0);
      assert.deepEqual(await t.done, { status: binding.DONE, total: file.length });
      server.end();
      assert.equal(sha256(await received), sha256(file));
    });
  });

  describe('when the peer resets the connection', () => {
    it('should call back once with a negative errno', async () => {
      const { server, client, fd } = await pair();
      const t = start(fd, [[fileFd, 0, file.length]]);
      assert.equal(t.status, binding.PENDING);
      await sleep(50);
      client.resetAndDestroy();
      const outcome = await t.done;
      assert.ok(outcome.status < 0, `status ${outcome.status}`);
      assert.ok(['ECONNRESET', 'EPIPE'].includes(getSystemErrorName(outcome.status)), getSystemErrorName(outcome.status));
      assert.ok(outcome.total < file.length);
      await sleep(20);
      assert.equal(t.calls(), 1);
      server.destroy();
    });
  });

  describe('when cancelled while in flight', () => {
    it('should call back exactly once with -ECANCELED', async () => {
      const { server, client, fd } = await pair();
      const t = start(fd, [[fileFd, 0, file.length]]);
      assert.equal(t.status, binding.PENDING);
      await sleep(50); // a POLL_ADD linked to a drain is pending now
      assert.equal(binding.cancel(t.id), true);
      assert.equal(binding.cancel(t.id), false, 'a second cancel finds it stopping');
      const outcome = await t.done;
      assert.equal(outcome.status, ECANCELED);
      assert.ok(outcome.total < file.length);
      await sleep(50);
      assert.equal(t.calls(), 1);
      assert.equal(binding.cancel(t.id), false, 'finished transfers are unknown');
      server.destroy();
      client.destroy();
    });

    it('should stop a transfer whose Node fd is already closed, and release the connection', async () => {
      const { server, client, fd } = await pair();
      const clientClosed = new Promise<void>((r) => client.once('close', () => r()));
      client.resume();
      client.once('data', () => client.pause()); // read a little, then stall
      const t = start(fd, [[fileFd, 0, file.length]]);
      await sleep(50);
      server.destroy(); // Node closes its fd; the transfer has its own
      assert.equal(binding.cancel(t.id), true);
      assert.equal((await t.done).status, ECANCELED);
      client.resume();
      await clientClosed; // the peer sees the end once nothing pins the socket
    });
  });

  describe('when the file is shorter than promised', () => {
    it('should call back with EOF after sending what the file has', async () => {
      const { server, client, fd } = await pair();
      const received = collect(client);
      client.resume();
      const t = start(fd, [[fileFd, file.length - 10_000, 20_000]]);
      assert.deepEqual(await t.done, { status: binding.EOF, total: 10_000 });
      server.destroy();
      assert.ok((await received).equals(file.subarray(file.length - 10_000)));
    });

    it('should call back with EOF when the file shrinks mid-transfer', async () => {
      const shrinking = path.join(dir, 'shrinking.bin');
      fs.writeFileSync(shrinking, file);
      const fdShrinking = fs.openSync(shrinking, 'r+');
      try {
        const { server, client, fd } = await pair();
        const received = collect(client);
        const t = start(fd, [[fdShrinking, 0, file.length]]);
        await sleep(100);
        fs.ftruncateSync(fdShrinking, 1024 * 1024);
        client.resume();
        const outcome = await t.done;
        assert.equal(outcome.status, binding.EOF);
        assert.ok(outcome.total <= file.length);
        server.destroy();
        const got = await received;
        assert.equal(got.length, outcome.total);
        const kept = Math.min(got.length, 1024 * 1024);
        assert.ok(got.subarray(0, kept).equals(file.subarray(0, kept)), 'what the file still has is exact');
        // Bytes past the new end that were already in kernel buffers (pipe,
        // socket queues) are page-cache references: Linux zeroes the
        // truncated part of those pages, so the peer may read zeros there
        // (sendfile and splice behave the same). Never other bytes.
        for (let at = kept; at < got.length; at += 4096) {
          const page = got.subarray(at, Math.min(at + 4096, got.length));
          const same = page.equals(file.subarray(at, at + page.length));
          assert.ok(same || page.every((x) => x === 0), `page at ${at}: neither the original bytes nor zeros`);
        }
      } finally {
        fs.closeSync(fdShrinking);
      }
    });
  });

  describe('when 1,000 transfers are cancelled', () => {
    it('should leave the fd count, uringStats and pending transfers at baseline', async function () {
      this.timeout(120_000);
      await sendExact([[fileFd, 0, 1000]]); // warm: the ring and a pooled pipe exist
      const baseline = openFdCount();
      const pool = binding.pipePoolStats();
      const statuses = new Map<number, number>();
      for (let round = 0; round < 10; round++) {
        const pairs = await Promise.all(Array.from({ length: 100 }, () => pair()));
        const started = pairs.map((p) => start(p.fd, [Buffer.from('x'), [fileFd, 4096 * (round + 1) + 1, file.length - 4096 * (round + 1) - 1]], 256 * 1024));
        for (const t of started) assert.equal(t.status, binding.PENDING);
        // Half at once (fill and drain likely in an io-wq worker), half once
        // the socket is full and a POLL_ADD waits.
        for (const t of started.slice(0, 50)) assert.equal(binding.cancel(t.id), true);
        await sleep(20);
        for (const t of started.slice(50)) binding.cancel(t.id);
        const outcomes = await Promise.all(started.map((t) => t.done));
        for (const o of outcomes) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
        for (const t of started) assert.equal(t.calls(), 1);
        for (const p of pairs) {
          p.server.destroy();
          p.client.destroy();
        }
      }
      // A transfer that finished before its cancel reports DONE; every
      // other one must say ECANCELED.
      for (const s of statuses.keys()) assert.ok(s === ECANCELED || s === binding.DONE, `status ${s}`);
      assert.ok((statuses.get(ECANCELED) ?? 0) >= 500, JSON.stringify([...statuses]));
      console.log(`      · outcomes of 1,000 cancelled transfers: ${JSON.stringify(Object.fromEntries(statuses))}`);
      await eventually(() => openFdCount() <= baseline, 10_000, () => `fd count ${openFdCount()} back to ${baseline}`);
      // The last completions reach JS on the ring's next wake-up, which may
      // come after the fds are closed.
      await eventually(() => binding.pendingTransfers() === 0, 1000, () => `${binding.pendingTransfers()} transfers pending`);
      assert.deepEqual(binding.uringStats(), { inFlight: 0, transfers: 0, pipes: 0 });
      const after = binding.pipePoolStats();
      assert.equal(after.inUse, 0);
      assert.ok(after.idle <= Math.max(pool.idle, 64));
    });
  });

  describe('in a worker thread', () => {
    const addon = path.join(REPO, 'native', 'build', 'Release', 'sluice.node');

    it('should use the worker\'s own ring, and tear it down with a transfer pending', async () => {
      const baseline = openFdCount();
      const { server, client, fd } = await pair();
      const code = `
        const { parentPort, workerData } = require('node:worker_threads');
        const b = require(workerData.addon);
        const status = b.uringSend(workerData.fd, [[workerData.fileFd, 0, workerData.length]], 1 << 20, 1, () => {
          parentPort.postMessage({ calledBack: true });
        });
        parentPort.postMessage({ status, stats: b.uringStats() });
      `;
      const worker = new Worker(code, { eval: true, workerData: { addon, fd, fileFd, length: file.length } });
      const first = await new Promise<{ status: number; stats: { transfers: number } }>((r) => worker.once('message', r));
      assert.equal(first.status, binding.PENDING);
      assert.equal(first.stats.transfers, 1);
      assert.equal(binding.uringStats().transfers, 0, 'the main thread ring is not involved');
      await sleep(100); // the client does not read: the transfer is stuck
      let calledBack = false;
      worker.on('message', (m: { calledBack?: boolean }) => (calledBack ||= m.calledBack === true));
      await worker.terminate();
      assert.equal(calledBack, false, 'no callback into a dying environment');
      server.destroy();
      client.destroy();
      await eventually(() => openFdCount() <= baseline, 10_000, () => `fd count ${openFdCount()} back to ${baseline}`);
    });
  });
});

describe('io_uring forced unavailable (SLUICE_FORCE_ERRNO)', function () {
  const dist = path.join(REPO, 'dist', 'index.js');
  if (!native.binding) {
    it.skip(`skipped: native addon unavailable (${native.reason})`, () => {});
    return;
  }

  /** Runs `script` in a fresh node with io_uring_setup forced to EPERM. */
  function child(script: string): unknown {
    const out = execFileSync(process.execPath, ['-e', script], {
      env: { ...process.env, SLUICE_FORCE_ERRNO: 'io_uring_setup:EPERM' },
      encoding: 'utf8',
    });
    return JSON.parse(out);
  }

  it('should report io_uring unavailable with "io_uring_setup: EPERM"', function () {
    if (!fs.existsSync(dist)) this.skip();
    const reports = child(`console.log(JSON.stringify(require(${JSON.stringify(dist)}).engines()))`) as Array<{ name: string; available: boolean; reason: string }>;
    const uring = reports.find((r) => r.name === 'io_uring');
    assert.ok(uring);
    assert.equal(uring.available, false);
    assert.match(uring.reason, /io_uring_setup/);
    assert.match(uring.reason, /EPERM/);
    assert.equal(uring.reason, 'io_uring_setup: EPERM');
    assert.ok(reports.find((r) => r.name === 'sendfile')?.available, 'the other engines stay');
  });

  it('should refuse an explicit io_uring engine and let auto pick another', function () {
    if (!fs.existsSync(dist)) this.skip();
    const result = child(`
      const s = require(${JSON.stringify(dist)});
      let explicit = null;
      try { s.createHandler('.', { engine: 'io_uring' }); } catch (e) { explicit = { code: e.code, message: e.message }; }
      const auto = s.createHandler('.', { engine: 'auto' });
      console.log(JSON.stringify({ explicit, auto: auto.engine }));
    `) as { explicit: { code: string; message: string } | null; auto: string };
    assert.ok(result.explicit, 'explicit io_uring must fail at start-up');
    assert.equal(result.explicit.code, 'ERR_SLUICE_ENGINE_UNAVAILABLE');
    assert.match(result.explicit.message, /io_uring_setup: EPERM/);
    assert.notEqual(result.auto, 'io_uring');
  });

  it('should make uringProbe and uringSend fail with -EPERM from io_uring_setup', () => {
    const addon = path.join(REPO, 'native', 'build', 'Release', 'sluice.node');
    const result = child(`
      const b = require(${JSON.stringify(addon)});
      const probe = b.uringProbe();
      const send = b.uringSend(1, [Buffer.from('x')], 1, 1, () => {});
      console.log(JSON.stringify({ probe, send, stats: b.uringStats() }));
    `) as { probe: { rc: number; syscall: string }; send: number; stats: unknown };
    const EPERM = -os.constants.errno.EPERM;
    assert.deepEqual(result.probe, { rc: EPERM, syscall: 'io_uring_setup' });
    assert.equal(result.send, EPERM);
    assert.deepEqual(result.stats, { inFlight: 0, transfers: 0, pipes: 0 });
  });
});
