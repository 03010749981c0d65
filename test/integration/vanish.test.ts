// Clients that vanish at every stage of an exchange: before the head,
// mid-head, right after asking for a large file, mid-body, and during a
// pipelined batch; half of them with RST, half with FIN. 1,000 per engine.
//
// After each stage the server must hold nothing for them any more: its fd
// count is back to the baseline, no transfer is pending, no pipe or io_uring
// entry is held. Afterwards every file the stages used downloads byte-exact
// (a transfer left writing on a closed fd would write into whatever
// connection reused that number).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import { Agent, request } from 'undici';
import { native } from '../../server/src/native';
import { fixtures, openFdCount, sha256 } from '../helpers/fixtures';
import { connect, requestText } from '../helpers/raw-http';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';
import { eventually } from '../helpers/eventually';

const BIG = '/size-67108864.bin';
const MID = '/size-1048579.bin';
const SMALL = '/size-4095.bin';
const EDGE = '/size-65537.bin';
const TINY = '/size-1.bin';
const FILES = [BIG, MID, EDGE, SMALL, TINY];

/** Clients per stage (half RST, half FIN): 5 stages make 1,000 per engine. */
const CLIENTS_PER_STAGE = 200;
/** Clients in flight at once: enough to overlap every stage with itself. */
const CONCURRENCY = 100;
/** How long the server may take to let go of what vanished clients held. */
const RELEASE_MS = 10_000;

type Vanish = 'rst' | 'fin';

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * 0 to 3 ms, by client index: spreads the moment of vanishing over the
 * server's accept and parse, the same way on every run.
 */
function stagger(i: number): Promise<void> {
  return i % 4 === 0 ? Promise.resolve() : delay(i % 4);
}

/** Runs task(0..count-1) with at most `limit` in flight; rejects on the first failure. */
async function runBounded(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** A connected client socket, and a promise of its fd being closed. */
interface Client {
  socket: net.Socket;
  closed: Promise<void>;
}

async function client(port: number): Promise<Client> {
  const socket = await connect(port);
  // The server resets connections whose client is gone: expected here.
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

/**
 * Vanishes: RST (SO_LINGER 0, then close) or FIN (shutdown, then close once
 * it is out). Bytes the client left unread make the kernel follow the FIN
 * with an RST, as for any real client that closes mid-response. Resolves
 * once the client's fd is closed, so no client fd is left in the count.
 */
function vanish({ socket, closed }: Client, how: Vanish): Promise<void> {
  if (how === 'rst') socket.resetAndDestroy();
  else socket.end(() => socket.destroy());
  return closed;
}

/**
 * Reads from `socket` until `enough(total, joined)` holds, then stops
 * reading. `joined()` concatenates what arrived (call it only while that is
 * small: the chunk list is kept so large reads are joined once).
 */
function readUntil(socket: net.Socket, enough: (total: number, joined: () => Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let total = 0;
    const joined = (): Buffer => {
      if (chunks.length > 1) chunks = [Buffer.concat(chunks, total)];
      return chunks[0] ?? Buffer.alloc(0);
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      total += chunk.length;
      if (enough(total, joined)) {
        cleanup();
        resolve(joined());
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`connection closed after ${total} bytes`));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

/**
 * Resolves once response bytes have reached the client socket, without the
 * client reading them ('readable' keeps the stream paused).
 */
function firstBytes(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReadable = (): void => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      socket.off('readable', onReadable);
      reject(new Error('connection closed before the first response byte'));
    };
    socket.once('readable', onReadable);
    socket.once('close', onClose);
  });
}

interface Head {
  status: number;
  contentLength: number;
  /** Bytes of the head, blank line included. */
  length: number;
}

/** The response head at the start of `raw`, or null while it is incomplete. */
function parseHead(raw: Buffer): Head | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const text = raw.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const contentLength = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? NaN);
  return { status, contentLength, length: end + 4 };
}

/** What the server holds that a vanished client could leak. */
interface Snapshot {
  fds: number;
  idlePipes: number;
  pipesInUse: number;
  pending: number;
  uring: { inFlight: number; transfers: number; pipes: number } | null;
}

function snapshot(): Snapshot {
  const b = native.binding;
  const pool = b?.pipePoolStats();
  let uring: Snapshot['uring'] = null;
  try {
    uring = b ? b.uringStats() : null;
  } catch {
    // an addon without io_uring: nothing to hold
  }
  return {
    fds: openFdCount(),
    idlePipes: pool?.idle ?? 0,
    pipesInUse: pool?.inUse ?? 0,
    pending: b?.pendingTransfers() ?? 0,
    uring,
  };
}

/**
 * What `now` holds beyond `baseline`, '' when nothing. The pipe pool keeps
 * up to 64 empty pipes for reuse after a burst, and closes a pipe that a
 * cancelled transfer left bytes in: idle pipes are a cache whose size goes
 * up or down, and the fd budget with it (2 fds a pipe).
 */
function heldSince(baseline: Snapshot, now: Snapshot): string {
  const out: string[] = [];
  const morePipes = now.idlePipes - baseline.idlePipes;
  const fdLimit = baseline.fds + 2 * morePipes;
  if (now.fds > fdLimit) out.push(`${now.fds} fds open, allowed ${fdLimit} (baseline ${baseline.fds}, idle pipes ${morePipes >= 0 ? '+' : ''}${morePipes})`);
  if (now.pending !== 0) out.push(`${now.pending} transfers pending`);
  if (now.pipesInUse > baseline.pipesInUse) out.push(`${now.pipesInUse} pipes in use (baseline ${baseline.pipesInUse})`);
  if (now.uring && baseline.uring) {
    const { inFlight, transfers, pipes } = now.uring;
    if (transfers !== 0) out.push(`${transfers} io_uring transfers`);
    if (pipes !== 0) out.push(`${pipes} io_uring pipes`);
    if (inFlight > baseline.uring.inFlight) out.push(`${inFlight} io_uring SQEs in flight (baseline ${baseline.uring.inFlight})`);
  }
  return out.join('; ');
}

/** Waits (bounded) until the server holds nothing beyond `baseline`. */
async function assertReleasedSince(baseline: Snapshot): Promise<void> {
  let last = '';
  await eventually(
    () => (last = heldSince(baseline, snapshot())) === '',
    RELEASE_MS,
    () => `still held: ${last}; fds: ${describeFds()}`,
  );
}

forEachEngine('clients that vanish', (engine) => {
  const fx = fixtures();
  const expected = new Map(FILES.map((f) => [f, fx.bytes(f)]));
  const want = (urlPath: string): Buffer => expected.get(urlPath) as Buffer;

  let server: TestServer;
  let baseline: Snapshot;
  const assertReleased = (): Promise<void> => assertReleasedSince(baseline);

  /** Downloads `urlPath` on a connection of its own (closed after) and compares sha256. */
  const downloadExact = async (urlPath: string): Promise<void> => {
    const agent = new Agent({ connections: 1 });
    try {
      const res = await request(`${server.url}${urlPath}`, { dispatcher: agent });
      assert.equal(res.statusCode, 200, urlPath);
      assert.equal(sha256(Buffer.from(await res.body.arrayBuffer())), sha256(want(urlPath)), `${urlPath} differs`);
    } finally {
      await agent.close();
    }
  };

  before(async () => {
    server = await startServer(fx.root, { engine });
    const sockets = socketCount();
    // Warm up: the open-file table keeps each file's fd, the splice engine
    // its first pipe, io_uring its ring; none of that is a leak.
    for (const f of FILES) await downloadExact(f);
    // The baseline has no connection open: wait for the server to close its
    // side of the warm-up connections.
    await eventually(
      () => socketCount() <= sockets,
      RELEASE_MS,
      () => `warm-up sockets to close: ${describeFds()}`,
    );
    baseline = snapshot();
  });
  after(() => server.close());

  /**
   * Runs CLIENTS_PER_STAGE clients through `stage` (which takes each up to
   * its moment of vanishing), even indices vanishing with RST and odd ones
   * with FIN, then checks the server let go of everything.
   */
  const runStage = async (stage: (c: Client, i: number) => Promise<void>): Promise<void> => {
    await runBounded(CLIENTS_PER_STAGE, CONCURRENCY, async (i) => {
      const c = await client(server.port);
      try {
        await stage(c, i);
      } finally {
        await vanish(c, i % 2 === 0 ? 'rst' : 'fin');
      }
    });
    await assertReleased();
  };

  const write = (socket: net.Socket, data: string): Promise<void> =>
    new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));

  /** Checks that the bytes `raw` holds of a response for `urlPath` are a prefix of the right one. */
  const assertPrefixOf = (raw: Buffer, urlPath: string): void => {
    const head = parseHead(raw);
    if (!head) return; // vanished mid-head: nothing to compare yet
    assert.equal(head.status, 200, `status for ${urlPath}`);
    assert.equal(head.contentLength, want(urlPath).length, `Content-Length for ${urlPath}`);
    // A read may run on into the next pipelined response: those bytes are not this body's.
    const body = raw.subarray(head.length, head.length + head.contentLength);
    assert.ok(body.equals(want(urlPath).subarray(0, body.length)), `the first ${body.length} body bytes of ${urlPath} differ`);
  };

  it(`(a) before the head: ${CLIENTS_PER_STAGE} connect and vanish without a byte`, async () => {
    await runStage(async (_c, i) => {
      await stagger(i);
    });
  });

  it(`(b) mid-head: ${CLIENTS_PER_STAGE} send part of a request head and vanish`, async () => {
    const head = requestText('GET', BIG);
    await runStage(async ({ socket }, i) => {
      // Cut anywhere from the first byte to just short of the blank line.
      await write(socket, head.slice(0, 1 + (i % (head.length - 2))));
      await stagger(i);
    });
  });

  it(`(c) before reading: ${CLIENTS_PER_STAGE} ask for 64 MiB and vanish without reading`, async () => {
    await runStage(async ({ socket }, i) => {
      socket.pause();
      await write(socket, requestText('GET', BIG));
      // A third go at once: the server is still parsing, or finds the
      // connection gone when it starts to answer. A third go as the first
      // response bytes arrive: the head and the first chunk are on their
      // way. A third go a few ms later: the transfer is parked, waiting for
      // a client that does not read.
      if (i % 3 === 0) return;
      await firstBytes(socket);
      if (i % 3 === 2) await delay(1 + (i % 10));
    });
  });

  it(`(d) mid-body: ${CLIENTS_PER_STAGE} read part of a body and vanish`, async () => {
    await runStage(async ({ socket }, i) => {
      // Mostly the 64 MiB file; every fourth client a 1 MiB one.
      const urlPath = i % 4 === 3 ? MID : BIG;
      // From the first body byte to 1 MiB in (short of MID's end), a
      // different cut for every client.
      const bodyBytes = 1 + ((i * 10_007) % (1024 * 1024));
      await write(socket, requestText('GET', urlPath));
      let headLength = -1;
      const raw = await readUntil(socket, (total, joined) => {
        if (headLength < 0) headLength = parseHead(joined())?.length ?? -1;
        return headLength >= 0 && total >= headLength + bodyBytes;
      });
      assertPrefixOf(raw, urlPath);
    });
  });

  it(`(e) pipelined: ${CLIENTS_PER_STAGE} send 5 requests at once and vanish after the first response or mid-second`, async () => {
    const batches = [
      [SMALL, BIG, EDGE, MID, BIG],
      [EDGE, MID, SMALL, BIG, TINY],
    ];
    await runStage(async ({ socket }, i) => {
      const batch = batches[(i >> 2) % 2] as string[];
      const [first, second] = batch as [string, string];
      // Half stop once the first response is complete, half somewhere in the
      // second: in its head, or up to 1 MiB into its body.
      const intoSecond = (i >> 1) % 2 === 1 ? 1 + ((i * 7919) % (1024 * 1024)) : 0;
      await write(socket, batch.map((p) => requestText('GET', p)).join(''));
      let firstLength = -1;
      const raw = await readUntil(socket, (total, joined) => {
        if (firstLength < 0) {
          const head = parseHead(joined());
          if (head) firstLength = head.length + head.contentLength;
        }
        return firstLength >= 0 && total >= firstLength + intoSecond;
      });
      const head = parseHead(raw) as Head;
      assert.equal(head.status, 200, `status for ${first}`);
      assert.ok(raw.subarray(head.length, firstLength).equals(want(first)), `pipelined ${first} differs`);
      if (intoSecond > 0) assertPrefixOf(raw.subarray(firstLength), second);
    });
  });

  it('afterwards: every file downloads byte-exact, and the downloads leave nothing held', async () => {
    for (const f of FILES) await downloadExact(f);
    await assertReleased();
  });
});

/** TCP and Unix sockets this process holds open. */
function socketCount(): number {
  return fdTargets().filter((t) => t.startsWith('socket:')).length;
}

/** What /proc/self/fd points at, for counting and for failure messages. */
function fdTargets(): string[] {
  const targets: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      targets.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed between readdir and readlink
    }
  }
  return targets;
}

/** Open fds by kind ('socket 12, pipe 8, anon_inode:[io_uring] 1, file 9'). */
function describeFds(): string {
  const kinds = new Map<string, number>();
  for (const t of fdTargets()) {
    const kind = t.startsWith('socket:') ? 'socket' : t.startsWith('pipe:') ? 'pipe' : t.startsWith('/') ? 'file' : t;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${k} ${n}`).join(', ');
}
