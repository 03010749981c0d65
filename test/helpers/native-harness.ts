// Helpers for the addon's contract tests: real TCP loopback connections
// whose server side is handed to the addon by fd, temp files, receivers that
// hash what arrives, and promise wrappers around the transfer callbacks.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, type NativeBinding, type NativeSegment, type TransferCallback } from '../../server/src/native';
import { eventually } from './eventually';
import { loopThreadCpuMs } from './cpu';

export const binding: NativeBinding | null = native.binding;
export const bindingReason: string = native.reason;

export const EPIPE = 32;
export const EBADF = 9;
export const EEXIST = 17;
export const ECONNRESET = 104;
export const ECANCELED = 125;

/** `describe`, or a skipped one whose title says why (serialport's makeTestFeature). */
export function describeIf(condition: boolean, reason: string, title: string, fn: (this: Mocha.Suite) => void): Mocha.Suite | void {
  return condition ? describe(title, fn) : describe.skip(`${title} (skipped: ${reason})`, fn);
}

/** The binding, for code inside describeIf(binding !== null, ...). */
export function requireBinding(): NativeBinding {
  if (!binding) throw new Error(`native addon not loaded: ${bindingReason}`);
  return binding;
}

/** Transfer ids far above the engines' own (which count from 1). */
let nextId = 2 ** 40;
export function newId(): number {
  return nextId++;
}

export { openFdCount, sha256 } from './fixtures';

/** The soft RLIMIT_NOFILE of this process. */
export function fdLimit(): number {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
}

/** Resolves on the next turn of the event loop, after pending I/O callbacks. */
export function nextLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------
// Files

export class TempDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-native-'));
  private readonly fds: number[] = [];

  /** Writes `data` to a new file and opens it read-only. */
  file(name: string, data: Buffer): { path: string; fd: number; data: Buffer } {
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, data);
    const fd = fs.openSync(file, 'r');
    this.fds.push(fd);
    return { path: file, fd, data };
  }

  /** A file of `size` random bytes. */
  randomFile(name: string, size: number): { path: string; fd: number; data: Buffer } {
    return this.file(name, randomBytes(size));
  }

  /** Opens a path with extra flags (for fds that must fail). */
  open(file: string, flags: string): number {
    const fd = fs.openSync(file, flags);
    this.fds.push(fd);
    return fd;
  }

  cleanup(): void {
    for (const fd of this.fds.splice(0)) fs.closeSync(fd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Sockets

/**
 * What the client side of a connection received. It starts paused, like a
 * client that is slow to read; resume() lets bytes flow. It either keeps
 * every byte (for exact comparison) or only a running hash (for volume).
 */
export class Receiver {
  bytes = 0;
  private readonly chunks: Buffer[] | null;
  private readonly hash: Hash = createHash('sha256');
  /** Resolves when the server side ends the stream (FIN), rejects on error. */
  readonly ended: Promise<void>;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(
    readonly socket: net.Socket,
    keep: boolean,
  ) {
    this.chunks = keep ? [] : null;
    this.ended = new Promise((resolve, reject) => {
      socket.once('end', () => resolve());
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`connection closed after ${this.bytes} bytes without a FIN`)));
    });
    // The promise may never be awaited (a test that resets the connection).
    this.ended.catch(() => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.chunks?.push(chunk);
      this.hash.update(chunk);
      this.waiters = this.waiters.filter((w) => {
        if (this.bytes < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  resume(): void {
    this.socket.resume();
  }

  pause(): void {
    this.socket.pause();
  }

  /** Resolves once at least `n` bytes arrived (the socket must be flowing). */
  atLeast(n: number): Promise<void> {
    if (this.bytes >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  data(): Buffer {
    if (!this.chunks) throw new Error('this receiver keeps only a hash');
    return Buffer.concat(this.chunks);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export interface Connection {
  /** Node's server-side socket, paused so that Node never reads from it. */
  server: net.Socket;
  /** Its kernel fd, which the addon sends on. */
  fd: number;
  client: net.Socket;
  receiver: Receiver;
  /** Half-closes the server side and waits until the client saw every byte and the FIN. */
  finish(): Promise<void>;
  destroy(): Promise<void>;
}

function closed(socket: net.Socket): Promise<void> {
  if (socket.destroyed && (socket as net.Socket & { closed?: boolean }).closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

/** A net.Server on 127.0.0.1 port 0 that pairs each accepted socket with its client. */
export class Loopback {
  private server: net.Server | null = null;
  private port = 0;
  private readonly accepted = new Map<number, net.Socket>();
  private readonly waiting = new Map<number, (s: net.Socket) => void>();
  private readonly open = new Set<Connection>();

  async listen(): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      const port = socket.remotePort as number;
      const waiter = this.waiting.get(port);
      if (waiter) {
        this.waiting.delete(port);
        waiter(socket);
      } else {
        this.accepted.set(port, socket);
      }
    });
    server.maxConnections = Infinity;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /**
   * A fresh connection. `keep` keeps the received bytes (else only their
   * hash). The client starts paused: nothing is read until resume().
   */
  async connect(keep = true): Promise<Connection> {
    const client = net.connect({ host: '127.0.0.1', port: this.port });
    client.pause();
    const receiver = new Receiver(client, keep);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const port = client.localPort as number;
    const server = await new Promise<net.Socket>((resolve) => {
      const early = this.accepted.get(port);
      if (early) {
        this.accepted.delete(port);
        resolve(early);
      } else {
        this.waiting.set(port, resolve);
      }
    });
    server.pause();
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Error('no fd on the server socket');
    const conn: Connection = {
      server,
      fd,
      client,
      receiver,
      finish: async () => {
        server.end();
        receiver.resume();
        await receiver.ended;
      },
      destroy: async () => {
        this.open.delete(conn);
        await Promise.all([closed(server), closed(client)]);
      },
    };
    this.open.add(conn);
    return conn;
  }

  /** `count` connections, opened `batch` at a time. */
  async connectMany(count: number, keep: boolean, batch = 250): Promise<Connection[]> {
    const out: Connection[] = [];
    while (out.length < count) {
      const n = Math.min(batch, count - out.length);
      out.push(...(await Promise.all(Array.from({ length: n }, () => this.connect(keep)))));
    }
    return out;
  }

  /** Destroys every connection still open (afterEach). */
  async destroyAll(): Promise<void> {
    await Promise.all([...this.open].map((c) => c.destroy()));
  }

  async close(): Promise<void> {
    await this.destroyAll();
    for (const s of this.accepted.values()) s.destroy();
    this.accepted.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------
// Transfers

/** Starts a transfer the way one binding function does; returns its status. */
export type StartTransfer = (outFd: number, segments: NativeSegment[], maxChunk: number, id: number, cb: TransferCallback) => number;

export interface Outcome {
  status: number;
  /** Bytes reported by the callback; null when the transfer finished in the call. */
  bytes: number | null;
}

export interface Started {
  id: number;
  /** What the start call returned: DONE, EOF, -errno or PENDING. */
  returned: number;
  /** How many times the callback ran so far. */
  calls(): number;
  /** The final outcome: at once if the call finished it, else from the callback. */
  outcome: Promise<Outcome>;
}

/** Ids started by the current test and maybe still pending (for cleanup). */
const live = new Set<number>();

export function start(send: StartTransfer, outFd: number, segments: NativeSegment[], maxChunk: number): Started {
  const b = requireBinding();
  const id = newId();
  let calls = 0;
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => {
    settle = resolve;
  });
  const returned = send(outFd, segments, maxChunk, id, (status, bytes) => {
    calls++;
    live.delete(id);
    settle({ status, bytes });
  });
  if (returned === b.PENDING) {
    live.add(id);
  } else {
    settle({ status: returned, bytes: null });
  }
  return { id, returned, calls: () => calls, outcome };
}

/** Cancels whatever the test left pending and waits for those callbacks. */
export async function cancelLeftovers(): Promise<void> {
  const b = requireBinding();
  for (const id of live) b.cancel(id);
  // A cancelled transfer calls back a loop turn or so later (io_uring: once
  // the cancel's completion is reaped), so wait for the count by time, not
  // by a number of turns that a loaded machine may not fit the wake-up in.
  await eventually(
    () => b.pendingTransfers() === 0,
    2000,
    () => `${b.pendingTransfers()} cancelled transfers to call back`,
  );
  live.clear();
}

/** The bytes `segments` describe, read from the files behind their fds. */
export function expectedBytes(segments: NativeSegment[]): Buffer {
  return Buffer.concat(
    segments.map((s) => {
      if (Buffer.isBuffer(s)) return s;
      const [fd, offset, count] = s;
      const out = Buffer.alloc(count);
      let got = 0;
      while (got < count) {
        const n = fs.readSync(fd, out, got, count - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return out.subarray(0, got);
    }),
  );
}

/** CPU time (user + system, ms) the event-loop thread spends during `ms` of wall time (a spin shows there; GC does not). */
export async function cpuDuring(ms: number): Promise<number> {
  const before = loopThreadCpuMs();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return loopThreadCpuMs() - before;
}
