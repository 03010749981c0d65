// --workers N: the cluster primary forks the serving processes, announces
// once they all listen, replaces any that dies, and on SIGTERM/SIGINT lets
// every worker drain (drain.ts) and exits when they are gone.
//
// Three things Node's cluster does not do on its own:
// - With --port 0 every worker is told the one port the primary picked
//   (workers-listen.ts), so that workers that replace dead ones listen where
//   the first line said, even after all of them died at once (the primary's
//   listening socket closes with its last worker; a port-0 replacement
//   would get a new one).
// - A connection the primary had handed to a worker that died before
//   taking it is closed, not left open forever (below).
// - HTTPS workers share one set of session ticket keys, so a resumed
//   session does not depend on which worker a connection reaches.
import * as crypto from 'node:crypto';
import cluster, { type Worker } from 'node:cluster';

/**
 * The environment variable that gives HTTPS workers one set of session
 * ticket keys (hex, 48 random bytes made by the primary), so a client
 * resumes its session on whichever worker its next connection reaches.
 */
const TICKET_KEYS_ENV = 'SLUICE_TLS_TICKET_KEYS';

/** In a worker, the primary's ticket keys (taken out of the environment, so children do not inherit them). */
export function workerTicketKeys(): Buffer | undefined {
  const hex = cluster.isWorker ? process.env[TICKET_KEYS_ENV] : undefined;
  delete process.env[TICKET_KEYS_ENV];
  return hex !== undefined && /^[0-9a-f]{96}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

/**
 * In a worker: a primary that died leaves the worker's IPC writes failing
 * with EPIPE; the worker then exits quietly (Node's cluster exits it on the
 * disconnect that follows), instead of with an unhandled 'error'.
 */
export function exitWithPrimary(): void {
  cluster.worker?.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || !process.connected) process.exit(0);
    throw err;
  });
}

interface ClusterMessage {
  cmd?: unknown;
  act?: unknown;
  seq?: unknown;
  ack?: unknown;
}

/**
 * Keeps the connections the primary hands `worker` until the worker says it
 * took them, and closes those left when the worker exits. Node's
 * round-robin primary closes its copy of a handed-over connection only on
 * the worker's reply, so one handed to a worker killed in between would
 * stay open, answered by no one, for as long as the primary lives.
 */
function closeOrphansOnExit(worker: Worker): void {
  const proc = worker.process;
  const unacknowledged = new Map<unknown, { close(): void }>();
  const send = proc.send.bind(proc) as (...args: unknown[]) => boolean;
  proc.send = ((message: ClusterMessage, handle?: { close(): void }, ...rest: unknown[]): boolean => {
    if (message?.cmd === 'NODE_CLUSTER' && message.act === 'newconn' && handle) unacknowledged.set(message.seq, handle);
    return send(message, handle, ...rest);
  }) as typeof proc.send;
  proc.on('internalMessage', (message: ClusterMessage) => {
    if (message?.cmd === 'NODE_CLUSTER' && message.ack !== undefined) unacknowledged.delete(message.ack);
  });
  worker.once('exit', () => {
    for (const handle of unacknowledged.values()) handle.close();
    unacknowledged.clear();
  });
}

/** What a worker tells the primary once it listens. */
export interface ListeningMessage {
  sluice: 'listening';
  url: string;
  engine: string;
  /** Whether its front door takes its connections. */
  frontDoor?: boolean;
  note: string;
  /** The port it listens on (for the banner's LAN addresses). */
  port?: number;
}

export function isListeningMessage(m: unknown): m is ListeningMessage {
  return typeof m === 'object' && m !== null && (m as ListeningMessage).sluice === 'listening';
}

export interface PrimaryOptions {
  count: number;
  /** Whether workers serve HTTPS (then they share session ticket keys). */
  tls: boolean;
  /** The workers' drain deadline (ms); the primary waits a little longer. */
  drainTimeout: number;
  /** Prints the start-up line, once, when every first worker listens. */
  announce(m: ListeningMessage): void;
  /** Reports a start-up failure and exits. */
  fail(message: string): never;
}

/** Grace (ms) the primary gives workers past their own drain deadline before it exits anyway. */
const EXIT_GRACE_MS = 2000;

function liveWorkers(): number {
  return Object.keys(cluster.workers ?? {}).length;
}

function signalWorkers(signal: NodeJS.Signals): void {
  for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
}

export function runPrimary(opts: PrimaryOptions): void {
  const keys = opts.tls ? { [TICKET_KEYS_ENV]: crypto.randomBytes(48).toString('hex') } : {};
  startWorkers(opts, keys);
}

function startWorkers(opts: PrimaryOptions, env: NodeJS.ProcessEnv): void {
  const { count } = opts;
  let announced = false;
  let listening = 0;
  let stopping = false;
  const fork = (): void => {
    const worker = cluster.fork(env);
    closeOrphansOnExit(worker);
    worker.on('message', (m: unknown) => {
      // Announce once every first-generation worker listens.
      if (!isListeningMessage(m) || announced || ++listening < count) return;
      announced = true;
      opts.announce(m);
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (liveWorkers() === 0) process.exit(0);
      return;
    }
    if (!announced) opts.fail(`worker exited during start-up (code ${code})`);
    process.stderr.write(`sluice: worker ${worker.process.pid} died (${signal ?? `code ${code}`}); starting another\n`);
    fork();
  });
  for (let i = 0; i < count; i++) fork();
  // As drain.ts, for the workers: the first signal drains them, a repeated
  // SIGTERM changes nothing, a second SIGINT stops them at once.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (signal === 'SIGINT') signalWorkers('SIGINT');
      return;
    }
    stopping = true;
    if (liveWorkers() === 0) process.exit(0);
    signalWorkers('SIGTERM');
    setTimeout(() => process.exit(0), opts.drainTimeout + EXIT_GRACE_MS).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
