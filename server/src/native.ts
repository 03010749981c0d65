// Loads the addon and declares its interface. Never throws: without the
// addon the copy engine serves and `reason` says why.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Called once per pending transfer: status is DONE, EOF or -errno. */
export type TransferCallback = (status: number, bytes: number) => void;

/** The splice engine's pipe pool on this event loop (for tests and leak checks). */
export interface PipePoolStats {
  /** Empty pipes kept for reuse (at most 64). */
  idle: number;
  /** Pipes held by transfers: a chunk in flight or bytes waiting for the socket. */
  inUse: number;
  /** Pipes ever created. */
  created: number;
  /** Pipes ever closed: surplus idle ones and any that still held bytes. */
  closed: number;
  /** Capacity F_SETPIPE_SZ granted the last pipe created (0 before any). */
  pipeSize: number;
}

/** Whether this process can run the io_uring engine (uringProbe()). */
export interface UringProbeResult {
  /** 0, or -errno from the call that failed. */
  rc: number;
  /** The failing syscall ('io_uring_setup', 'io_uring_register'...), '' when rc is 0. */
  syscall: string;
}

/** The io_uring engine on this event loop (for tests and leak checks). */
export interface UringStats {
  /** SQEs submitted (or queued) whose completion has not arrived yet. */
  inFlight: number;
  /** io_uring transfers not yet finished. */
  transfers: number;
  /** Pipes those transfers hold (drawn from the pool pipePoolStats reports). */
  pipes: number;
}

/** A body piece for sendSegments: literal bytes or [fd, offset, count]. */
export type NativeSegment = Buffer | [number, number, number];

export interface NativeBinding {
  /**
   * Sends `count` bytes of `inFd` from `offset` to the socket `outFd`.
   * Returns DONE, EOF or -errno when finished within the call (the callback
   * is then never called), or PENDING: the transfer continues on a duplicate
   * of `outFd` and `callback(status, totalBytes)` runs exactly once.
   * -EMFILE or -ENFILE returned here means no byte was sent (every
   * transfer function: the duplicate and any pipe are taken first).
   */
  sendfile(outFd: number, inFd: number, offset: number, count: number, maxChunk: number, id: number, callback: TransferCallback): number;
  /** Same contract for a list of segments moved by `mover`. */
  sendSegments(mover: number, outFd: number, segments: NativeSegment[], maxChunk: number, id: number, callback: TransferCallback): number;
  /**
   * Makes a small io_uring, checks IORING_OP_SPLICE, POLL_ADD and
   * ASYNC_CANCEL, and destroys it. Honours SLUICE_FORCE_ERRNO. Cache it.
   */
  uringProbe(): UringProbeResult;
  /**
   * Same contract as sendSegments, moved by io_uring (linked SPLICE
   * file→pipe→socket, POLL_ADD when the socket is full) on this event
   * loop's ring. Cancel it with cancel(id).
   */
  uringSend(outFd: number, segments: NativeSegment[], maxChunk: number, id: number, callback: TransferCallback): number;
  /** What the io_uring engine holds right now. */
  uringStats(): UringStats;
  /** Stops a pending transfer (any engine); its callback then runs with -ECANCELED. */
  cancel(id: number): boolean;
  /** Bytes a pending transfer (any engine) has sent so far, or -1 when `id` is not pending. */
  transferProgress(id: number): number;
  /** Transfers waiting on the event loop, io_uring ones included (for tests and leak checks). */
  pendingTransfers(): number;
  /** Counts of the pipe pool that MOVER_SPLICE transfers draw from. */
  pipePoolStats(): PipePoolStats;
  /** Closes the pool's idle pipes (descriptors run short); returns how many. Absent from older builds. */
  pipePoolTrim?(): number;
  /** Makes the calling thread SCHED_IDLE; 0 or -errno. Absent from older builds. */
  idleThisThread?(): number;
  /** The front door (front-door.ts): absent from older builds. */
  FrontDoor?: new (callbacks: FrontDoorCallbacks, options: FrontDoorNativeOptions) => NativeFrontDoor;
  /** The front door's verdict on a request head (its differential test against Node's parser). */
  classifyRequestHead?(head: Buffer): { status: 'plain' | 'incomplete' | 'handover'; headLength: number; isHead: boolean; minorVersion: number };
  readonly DONE: number;
  readonly EOF: number;
  readonly PENDING: number;
  readonly MOVER_SENDFILE: number;
  readonly MOVER_SPLICE: number;
}

/** What the front door tells JS; each runs from the event loop, never inside a call into the addon, but for onSent (see there). */
export interface FrontDoorCallbacks {
  /** A plain request head with no published reply: answer(id, …) or handOver(id). Its bytes are still in the socket. */
  onMiss(id: number, head: Buffer): void;
  /** The connection is Node's now, every unread byte still in the socket; the addon's duplicate is closed. */
  onHandOver(id: number): void;
  /**
   * The connection is over (reason: eof, error, done, truncated, keep-alive-timeout, send-timeout, server); the duplicate
   * is closed. `shrunk`: the token of the reply whose file turned out shorter (truncated), else 0.
   */
  onClosed(id: number, reason: string, shrunk: number): void;
  /**
   * A reply sent here ended (whole or cut off), while reportSends(true): its request head, status, body bytes
   * sent, and the ms from reading the head to the reply's end. A reply that goes out whole at once is reported from inside the answer() that sent it.
   */
  onSent?(id: number, head: Buffer, status: number, bodyBytes: number, ms: number): void;
}

export interface FrontDoorNativeOptions {
  keepAliveMs: number;
  /** How long a new connection may send nothing before it goes to Node (whose headersTimeout then applies). */
  firstRequestMs: number;
  sendTimeoutMs: number;
  maxChunk: number;
  maxEntries?: number;
  maxBytes?: number;
  /** Most kept replies holding a file descriptor (default 256). */
  maxFiles?: number;
}

export interface FrontDoorStats {
  connections: number;
  /** Connections waiting for a request (kept alive between requests included). */
  reading: number;
  /** Of those, the ones with part of a request head received (nginx's "Reading"). */
  partial: number;
  asking: number;
  writing: number;
  replies: number;
  replyBytes: number;
  /** Kept replies holding a file descriptor (bounded: maxFiles). */
  replyFiles: number;
  hits: number;
  misses: number;
  answered: number;
  handovers: number;
  closed: number;
}

/** Replies the front door sent, counted natively (tallySends). */
export interface FrontDoorSendTally {
  /** [method, status, replies]. */
  replies: [string, number, number][];
  /** Body bytes. */
  bytes: number;
  /** Durations: their sum (s), their count, and replies per bucket (not cumulative; the last is past every bound). */
  sum: number;
  count: number;
  buckets: number[];
}

export interface NativeFrontDoor {
  /** Takes the accepted socket `fd` (the addon works on a duplicate), whose client the access log names `remoteAddress`: an id > 0, or -errno. */
  adopt(fd: number, remoteAddress?: string): number;
  /** Answers the head onMiss asked about; publishMs > 0 keeps the reply for the same head bytes that long. */
  answer(
    id: number,
    head: Buffer,
    inline: Buffer | null,
    fileFd: number,
    offset: number,
    length: number,
    closeAfter: boolean,
    publishMs: number,
    token: number,
  ): boolean;
  handOver(id: number): boolean;
  closeIdle(): number;
  /** The server is closing: idle connections close now, busy ones after their reply. */
  drain(): number;
  closeAll(): number;
  clearReplies(): void;
  stats(): FrontDoorStats;
  /** Whether onSent hears of every reply sent (off: nothing is copied for it). */
  reportSends(on: boolean): void;
  /**
   * Makes the access log line of every reply sent from now on in the addon,
   * and gives them to `onLog` (whole lines) once 64 KiB are held or 200 ms
   * after the first; null stops.
   */
  logReplies(opts: { format: 'combined' | 'json'; health?: string | null } | null, onLog?: (lines: Buffer) => void): void;
  /** The lines logReplies holds and has not yet given to onLog (for the process's exit). */
  takeLogLines(): Buffer;
  /** Counts every reply sent from now on, durations (s) against the ascending `bounds`, with no call into JS. */
  tallySends(bounds: readonly number[]): void;
  /** What tallySends() counted. */
  sendTally(): FrontDoorSendTally;
  /** Everything is Node's from now on, each connection at its next request boundary; returns how many went at once. */
  passThrough(): number;
  /** The idle time between requests from each connection's next wait on (the server's keepAliveTimeout). */
  setKeepAlive(ms: number): void;
}

export interface NativeLoad {
  binding: NativeBinding | null;
  reason: string;
  /** What brings the addon back, when building it would ('' otherwise). */
  fix: string;
}

/** The fix for an addon that is missing or was built for another Node. */
export const NATIVE_FIX = 'install g++ and make, then run `npm rebuild sluice`';

/** The package root: the nearest ancestor whose package.json names sluice. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'sluice') return dir;
    } catch {
      // not here; keep walking up
    }
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}

function load(): NativeLoad {
  if (process.platform !== 'linux') {
    return { binding: null, reason: `zero-copy engines need Linux (this is ${process.platform})`, fix: '' };
  }
  if (process.env.SLUICE_DISABLE_NATIVE === '1') {
    return { binding: null, reason: 'native addon disabled by SLUICE_DISABLE_NATIVE=1', fix: '' };
  }
  const root = packageRoot();
  for (const flavour of ['Release', 'Debug']) {
    const file = path.join(root, 'native', 'build', flavour, 'sluice.node');
    if (!fs.existsSync(file)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return { binding: require(file) as NativeBinding, reason: '', fix: '' };
    } catch (err) {
      // Built for another Node (NODE_MODULE_VERSION) or another libc, say.
      const why = (err as Error).message.split('\n')[0] ?? '';
      return { binding: null, reason: `native addon failed to load (${why})`, fix: NATIVE_FIX };
    }
  }
  return { binding: null, reason: 'native addon not built', fix: NATIVE_FIX };
}

export const native: NativeLoad = load();

/** Set in the environment once said, so workers and other children stay quiet. */
const WARNED = 'SLUICE_NATIVE_WARNED';

/**
 * One line on stderr, once per process tree, when the addon could be built
 * but is not there: what happened, what it costs and the fix.
 */
export function warnIfNativeMissing(): void {
  if (native.binding || native.fix === '' || process.env[WARNED] === '1') return;
  process.env[WARNED] = '1';
  process.stderr.write(`sluice: ${native.reason}, so bodies are copied instead of sent zero-copy; to fix: ${native.fix}\n`);
}
