// --workers N: the cluster primary forks the serving processes, announces
// once they all listen, replaces any that dies, and on SIGTERM/SIGINT lets
// every worker drain (drain.ts) and exits when they are gone.
import cluster from 'node:cluster';

/** What a worker tells the primary once it listens. */
export interface ListeningMessage {
  sluice: 'listening';
  url: string;
  engine: string;
  note: string;
}

export function isListeningMessage(m: unknown): m is ListeningMessage {
  return typeof m === 'object' && m !== null && (m as ListeningMessage).sluice === 'listening';
}

export interface PrimaryOptions {
  count: number;
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
  const { count } = opts;
  let announced = false;
  let listening = 0;
  let stopping = false;
  const fork = (): void => {
    const worker = cluster.fork();
    worker.on('message', (m: unknown) => {
      // Announce once every first-generation worker listens: then the port
      // is held by the primary for good (with --port 0 it would change if
      // all workers sharing it died before the others registered).
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
