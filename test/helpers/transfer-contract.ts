// The contract every poll-driven transfer function of the addon keeps
// (sendfile, sendSegments with either mover), as tests over real TCP
// loopback connections. Each *.test.ts file runs it for its own functions.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { NativeSegment } from '../../server/src/native';
import {
  EBADF,
  ECANCELED,
  ECONNRESET,
  EEXIST,
  EPIPE,
  Loopback,
  TempDir,
  cancelLeftovers,
  cpuDuring,
  expectedBytes,
  fdLimit,
  nextLoopTurn,
  openFdCount,
  requireBinding,
  sha256,
  start,
  type Connection,
  type StartTransfer,
} from './native-harness';
import { eventually } from './eventually';
import { fdsAdded, openFds } from './fixtures';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Larger than any step: a transfer that goes PENDING did so because the socket was full. */
const NO_BUDGET = 1024 * MiB;
/** Comfortably more than a fresh loopback connection buffers (2-4 MiB here). */
const BLOCKING_SIZE = 32 * MiB;

export interface ContractOptions {
  send: StartTransfer;
  /** Whether `send` takes Buffers and several file ranges (sendSegments) or one range (sendfile). */
  multiSegment: boolean;
  /** Whether transfers draw pipes from the pool (splice): its counts are then checked too. */
  usesPipes: boolean;
}

type TestFile = { path: string; fd: number; data: Buffer };

const range = (fd: number, offset: number, count: number): NativeSegment[] => [[fd, offset, count]];

/**
 * What the contract's tests share: the transfer function under test, the
 * loopback, and the files and pool count that the hooks set before each test
 * (so the tests read them when they run, not when they are registered).
 */
class Contract {
  readonly b = requireBinding();
  readonly loop = new Loopback();
  readonly tmp = new TempDir();
  readonly send: StartTransfer;
  readonly usesPipes: boolean;
  big!: TestFile;
  small!: TestFile;
  poolBaseline = 0;

  constructor(opts: ContractOptions) {
    this.send = opts.send;
    this.usesPipes = opts.usesPipes;
  }

  /** Starts a transfer on `conn` of the whole of `expected`, and checks it arrives exactly. */
  async expectExact(conn: Connection, segments: NativeSegment[], maxChunk: number, flowing = true): Promise<void> {
    const { b } = this;
    const expected = expectedBytes(segments);
    if (flowing) conn.receiver.resume();
    const t = start(this.send, conn.fd, segments, maxChunk);
    if (!flowing) {
      assert.equal(t.returned, b.PENDING, 'a paused receiver leaves the transfer pending');
      conn.receiver.resume();
    }
    const { status, bytes } = await t.outcome;
    assert.equal(status, b.DONE);
    if (bytes !== null) assert.equal(bytes, expected.length, 'callback byte count');
    await conn.finish();
    assert.equal(conn.receiver.bytes, expected.length, 'bytes received');
    assert.equal(sha256(conn.receiver.data()), sha256(expected), 'content received');
    assert.equal(t.calls(), t.returned === b.PENDING ? 1 : 0);
  }

  /** Starts a transfer that blocks on a receiver that does not read. */
  startBlocked(conn: Connection, length = BLOCKING_SIZE): ReturnType<typeof start> {
    const t = start(this.send, conn.fd, range(this.big.fd, 0, length), NO_BUDGET);
    assert.equal(t.returned, this.b.PENDING, 'a receiver that does not read leaves the transfer pending');
    return t;
  }
}

/** Registers the shared contract tests in the current describe block. */
export function transferContract(opts: ContractOptions): void {
  const c = new Contract(opts);
  registerHooks(c);
  describeReadingReceiver(c);
  if (opts.multiSegment) describeSegments(c);
  describeStalledReceiver(c);
  describePeerReset(c);
  describeCancel(c);
  describeTruncation(c);
  describeManyTransfers(c);
}

/** The files, and after every test: nothing pending, every pipe back, idle pipes bounded. */
function registerHooks(c: Contract): void {
  const { b, loop, tmp } = c;
  before(async () => {
    await loop.listen();
    c.big = tmp.randomFile('big.bin', 2 * BLOCKING_SIZE + 12345);
    c.small = tmp.randomFile('small.bin', 3 * MiB + 17);
  });

  beforeEach(() => {
    c.poolBaseline = b.pipePoolStats().inUse;
  });

  afterEach(async () => {
    await cancelLeftovers();
    await loop.destroyAll();
    assert.equal(b.pendingTransfers(), 0, 'no transfer left pending');
    const stats = b.pipePoolStats();
    assert.equal(stats.inUse, c.poolBaseline, 'every pipe back in the pool or closed');
    assert.ok(stats.idle <= 64, `idle pipes bounded (${stats.idle})`);
  });

  after(async () => {
    await loop.close();
    tmp.cleanup();
  });
}

function itPushesTheTail(c: Contract, length: number): void {
  it(`should push the last byte of a ${length}-byte body out at once, without waiting for a FIN`, async () => {
    // On a keep-alive connection nothing follows the body. A tail sent
    // with MSG_MORE (SPLICE_F_MORE) while nothing else is in flight is
    // held by TCP for ~200 ms on Linux; a pushed one arrives in well
    // under a millisecond on loopback.
    const conn = await c.loop.connect();
    conn.receiver.resume();
    const t = start(c.send, conn.fd, range(c.small.fd, 1, length), NO_BUDGET);
    assert.equal((await t.outcome).status, c.b.DONE);
    const sent = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const held = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('held'), 150);
    });
    const arrived = conn.receiver.atLeast(length).then(() => 'arrived');
    const first = await Promise.race([arrived, held]);
    clearTimeout(timer);
    assert.equal(first, 'arrived', `${length - conn.receiver.bytes} tail bytes still held after ${Date.now() - sent} ms`);
  });
}

function describeReadingReceiver(c: Contract): void {
  const { b, loop, tmp } = c;
  describe('with a reading receiver', () => {
    it('should send a whole file byte-exact', async () => {
      await c.expectExact(await loop.connect(), range(c.small.fd, 0, c.small.data.length), NO_BUDGET);
    });

    it('should send a range that starts and ends mid-page', async () => {
      await c.expectExact(await loop.connect(), range(c.small.fd, 4095, 777_777), NO_BUDGET);
    });

    for (const length of [777, 100_001]) itPushesTheTail(c, length);

    it('should finish at once with DONE for zero bytes', async () => {
      const conn = await loop.connect();
      const t = start(c.send, conn.fd, range(c.small.fd, 100, 0), NO_BUDGET);
      assert.equal(t.returned, b.DONE);
      await conn.finish();
      assert.equal(conn.receiver.bytes, 0);
    });

    it('should yield every maxChunk bytes and still send everything in order', async () => {
      // An odd budget: steps end mid-page and mid-pipe.
      await c.expectExact(await loop.connect(), range(c.small.fd, 1, 2 * MiB + 3), 100_003);
    });

    it('should return -errno at once for a file fd it cannot read', async () => {
      const writeOnly = tmp.open(c.small.path, 'a'); // open, but not for reading
      const conn = await loop.connect();
      const t = start(c.send, conn.fd, range(writeOnly, 0, 1000), NO_BUDGET);
      assert.equal(t.returned, -EBADF);
      await conn.finish();
      assert.equal(conn.receiver.bytes, 0, 'nothing sent');
    });
  });
}

function describeSegments(c: Contract): void {
  const { loop } = c;
  describe('with several segments', () => {
    const segments = (): NativeSegment[] => [
      Buffer.from('--sluice\r\nContent-Range: bytes 0-99999/*\r\n\r\n'),
      [c.big.fd, 0, 100_000],
      Buffer.from('\r\n--sluice\r\n\r\n'),
      [c.big.fd, 5 * MiB + 3, 3 * MiB],
      Buffer.alloc(0),
      [c.small.fd, 7, 1],
      [c.small.fd, 8, 0],
      Buffer.from('\r\n--sluice--\r\n'),
    ];

    it('should send Buffers and file ranges in order, byte-exact', async () => {
      await c.expectExact(await loop.connect(), segments(), NO_BUDGET);
    });

    it('should resume across segment boundaries after the socket fills', async () => {
      const many: NativeSegment[] = [...segments(), [c.big.fd, 0, BLOCKING_SIZE], Buffer.from('tail')];
      await c.expectExact(await loop.connect(), many, NO_BUDGET, false);
    });

    it('should resume across segment boundaries after each yield', async () => {
      await c.expectExact(await loop.connect(), segments(), 65_537, false);
    });
  });
}

function describeStalledReceiver(c: Contract): void {
  const { b, loop } = c;
  describe('when the receiver stops reading', () => {
    it('should go PENDING, leave the CPU idle, and complete when reading resumes', async function () {
      this.timeout(20_000);
      const conn = await loop.connect();
      const t = c.startBlocked(conn);
      assert.equal(b.pendingTransfers(), 1);
      if (c.usesPipes) assert.equal(b.pipePoolStats().inUse, c.poolBaseline + 1, 'the pipe with unsent bytes stays held');
      // No spin: a stalled receiver must cost (next to) no CPU. A busy loop
      // would burn most of the window even on a loaded machine.
      const cpuMs = await cpuDuring(500);
      assert.ok(cpuMs < 150, `CPU used while stalled: ${cpuMs.toFixed(1)} ms in 500 ms`);
      assert.equal(t.calls(), 0, 'no callback while the receiver is stalled');
      conn.receiver.resume();
      const { status, bytes } = await t.outcome;
      assert.equal(status, b.DONE);
      assert.equal(bytes, BLOCKING_SIZE);
      await conn.finish();
      assert.equal(conn.receiver.bytes, BLOCKING_SIZE);
      assert.equal(sha256(conn.receiver.data()), sha256(c.big.data.subarray(0, BLOCKING_SIZE)));
    });
  });
}

function describePeerReset(c: Contract): void {
  describe('when the peer resets mid-transfer', () => {
    it('should call back once with -EPIPE or -ECONNRESET', async () => {
      const conn = await c.loop.connect();
      const t = c.startBlocked(conn);
      conn.client.resetAndDestroy();
      const { status, bytes } = await t.outcome;
      assert.ok(status === -EPIPE || status === -ECONNRESET, `status ${status}`);
      assert.ok(bytes !== null && bytes > 0 && bytes < BLOCKING_SIZE, `bytes ${bytes}`);
      await nextLoopTurn();
      assert.equal(t.calls(), 1);
    });
  });
}

function describeCancel(c: Contract): void {
  const { b, loop } = c;
  describe('when cancelled while pending', () => {
    it('should call back exactly once with -ECANCELED', async () => {
      const conn = await loop.connect();
      const t = c.startBlocked(conn);
      assert.equal(b.cancel(t.id), true);
      assert.equal(b.cancel(t.id), false, 'a transfer is cancelled once');
      const { status, bytes } = await t.outcome;
      assert.equal(status, -ECANCELED);
      assert.ok(bytes !== null && bytes < BLOCKING_SIZE);
      await nextLoopTurn();
      await nextLoopTurn();
      assert.equal(t.calls(), 1);
      assert.equal(b.cancel(t.id), false, 'unknown once finished');
    });

    it('should refuse a second transfer with the same id before sending a byte', async () => {
      const first = await loop.connect();
      const t = c.startBlocked(first);
      const second = await loop.connect();
      second.receiver.resume();
      let called = false;
      const rc = c.send(second.fd, range(c.small.fd, 0, 1000), NO_BUDGET, t.id, () => {
        called = true;
      });
      assert.equal(rc, -EEXIST);
      await second.finish();
      assert.equal(second.receiver.bytes, 0, 'nothing sent on the refused connection');
      assert.equal(called, false);
      b.cancel(t.id);
      assert.equal((await t.outcome).status, -ECANCELED);
    });
  });
}

function describeTruncation(c: Contract): void {
  const { b, loop, tmp } = c;
  describe('when the file is truncated', () => {
    it('should report EOF for a file that shrank before the send', async () => {
      const f = tmp.randomFile('shrink-before.bin', MiB + 100);
      fs.truncateSync(f.path, 300_001);
      const conn = await loop.connect();
      conn.receiver.resume();
      const t = start(c.send, conn.fd, range(f.fd, 0, MiB + 100), NO_BUDGET);
      const { status, bytes } = await t.outcome;
      assert.equal(status, b.EOF);
      if (bytes !== null) assert.equal(bytes, 300_001);
      await conn.finish();
      assert.equal(conn.receiver.bytes, 300_001, 'never padded');
      assert.equal(sha256(conn.receiver.data()), sha256(f.data.subarray(0, 300_001)));
    });

    it('should report EOF for a file that shrinks while it is sent', async function () {
      this.timeout(20_000);
      const size = BLOCKING_SIZE;
      const cut = size / 2; // page-aligned, beyond what the socket and a pipe hold
      const f = tmp.file('shrink-during.bin', c.big.data.subarray(0, size));
      const conn = await loop.connect();
      const t = start(c.send, conn.fd, range(f.fd, 0, size), NO_BUDGET);
      assert.equal(t.returned, b.PENDING);
      fs.truncateSync(f.path, cut);
      conn.receiver.resume();
      const { status, bytes } = await t.outcome;
      assert.equal(status, b.EOF);
      assert.ok(bytes !== null && bytes >= cut && bytes < size, `bytes ${bytes}`);
      await conn.finish();
      assert.equal(conn.receiver.bytes, bytes, 'every byte counted reached the client, no more');
      assert.equal(sha256(conn.receiver.data().subarray(0, cut)), sha256(f.data.subarray(0, cut)));
    });
  });
}

function itLeaksNothingOverCancels(c: Contract): void {
  const { b } = c;
  it('should leak no fd and no pipe over 1,000 cancelled transfers', async function () {
    this.timeout(30_000);
    const conns = await c.loop.connectMany(10, false);
    // Idle pooled pipes (two fds each) come and go by design: the first
    // transfers may take them, and closing a pipe with bytes shrinks the pool.
    const fdsOutsidePool = (): number => openFdCount() - 2 * b.pipePoolStats().idle;
    const fdsBefore = fdsOutsidePool();
    const openBefore = openFds();
    const closedBefore = b.pipePoolStats().closed;
    for (let i = 0; i < 1000; i++) {
      // The first transfer on each connection fills its socket; later ones
      // find it full and block at once (splice: with bytes in the pipe).
      const conn = conns[i % conns.length];
      const t = start(c.send, conn.fd, range(c.big.fd, (i * 4096) % MiB, 8 * MiB), NO_BUDGET);
      assert.equal(t.returned, b.PENDING, `transfer ${i} pending`);
      assert.equal(b.cancel(t.id), true);
      assert.equal((await t.outcome).status, -ECANCELED);
    }
    assert.equal(b.pendingTransfers(), 0);
    // The mocha process's other work (an earlier suite's sockets and files
    // closing or opening) moves its fd count too: wait for the count, and
    // name any fd still added when the budget runs out.
    await eventually(
      () => fdsOutsidePool() <= fdsBefore,
      5000,
      () => `fd count back at baseline (${fdsOutsidePool()} > ${fdsBefore}; added: ${fdsAdded(openBefore, openFds()).join(', ')})`,
    );
    const stats = b.pipePoolStats();
    assert.equal(stats.inUse, c.poolBaseline);
    assert.ok(stats.idle <= 64);
    if (c.usesPipes) {
      // Each cancelled transfer's pipe held bytes, so it was closed, not pooled.
      assert.equal(stats.closed - closedBefore, 1000, 'pipes closed');
    }
  });
}

function itCompletesConcurrentSlowTransfers(c: Contract): void {
  const { b } = c;
  it('should complete 2,000 concurrent slow transfers byte-exact', async function () {
    this.timeout(60_000);
    const count = 2000;
    const length = 256 * KiB;
    // Per connection: client, server, our duplicate and perhaps a pipe pair.
    const needed = count * 5 + 200;
    if (fdLimit() < needed) {
      this.skip(); // RLIMIT_NOFILE too low for 2,000 connections
    }
    const conns = await c.loop.connectMany(count, false);
    const maxIdle = { value: 0 };
    const transfers = conns.map((conn, i) => {
      const offset = (i * 8192 + i) % (c.big.data.length - length);
      // 16 KiB steps make every transfer yield many times: 2,000 transfers
      // interleave on the loop while their readers are paused.
      const t = start(c.send, conn.fd, range(c.big.fd, offset, length), 16 * KiB);
      assert.equal(t.returned, b.PENDING, `transfer ${i} pending`);
      return { conn, t, offset };
    });
    assert.equal(b.pendingTransfers(), count);
    for (const { conn } of transfers) conn.receiver.resume();
    await Promise.all(
      transfers.map(async ({ conn, t, offset }) => {
        const { status, bytes } = await t.outcome;
        maxIdle.value = Math.max(maxIdle.value, b.pipePoolStats().idle);
        assert.equal(status, b.DONE);
        assert.equal(bytes, length);
        await conn.finish();
        assert.equal(conn.receiver.bytes, length);
        assert.equal(conn.receiver.digest(), sha256(c.big.data.subarray(offset, offset + length)));
      }),
    );
    assert.ok(maxIdle.value <= 64, `idle pipes peaked at ${maxIdle.value}`);
    assert.equal(b.pipePoolStats().inUse, c.poolBaseline);
  });
}

function describeManyTransfers(c: Contract): void {
  describe('with many transfers', () => {
    itLeaksNothingOverCancels(c);
    itCompletesConcurrentSlowTransfers(c);
  });
}
