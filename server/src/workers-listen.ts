// How --workers share one port. Where Node's server.listen() takes
// `reusePort` (22.12+, 23.1+), every worker binds a socket of its own with
// SO_REUSEPORT and the kernel spreads new connections across them: no
// connection passes through the primary. Elsewhere, or with
// SLUICE_WORKERS_BALANCE=cluster, node:cluster's primary accepts every
// connection and hands it to a worker (round robin). A Unix socket always
// goes through node:cluster's primary: a path binds once.
import cluster from 'node:cluster';
import * as net from 'node:net';

export type WorkersBalance = 'kernel' | 'cluster';

/** Whether this Node's server.listen() takes `reusePort` (v22.12.0, v23.1.0 and later). */
export function hasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** How workers share the port on this Node, unless SLUICE_WORKERS_BALANCE=cluster says otherwise. */
export function workersBalance(env: NodeJS.ProcessEnv = process.env, version?: string): WorkersBalance {
  if (env.SLUICE_WORKERS_BALANCE === 'cluster') return 'cluster';
  return hasReusePort(version) ? 'kernel' : 'cluster';
}

/** The environment variable that gives workers the primary's resolved listen targets (JSON). */
const TARGETS_ENV = 'SLUICE_WORKER_LISTEN';

/** Where one server listens: TCP, or a Unix socket's path. */
export type Target = { host: string; port: number } | { path: string };

function listenOnce(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * Binds host:port once, without SO_REUSEPORT, and closes it again: a port
 * another process holds (with SO_REUSEPORT or not) is refused here with
 * EADDRINUSE instead of being silently shared, and port 0 becomes one
 * concrete port. Rejects with the listen error.
 */
async function probePort(host: string, port: number): Promise<number> {
  const probe = net.createServer();
  try {
    return await listenOnce(probe, port, host);
  } finally {
    await new Promise((resolve) => probe.close(resolve));
  }
}

/**
 * In the primary, before any worker starts: every TCP target's port made
 * concrete (port 0 becomes one free port that every worker, and every
 * replacement, listens on), and for the kernel balance checked free, and
 * the list given to the workers. A Unix socket goes through node:cluster
 * whatever the balance (a path binds once), its file freed by the caller.
 * Rejects with the first listen error and its target.
 */
export async function prepareWorkersTargets<T extends Target>(targets: readonly T[]): Promise<T[]> {
  const kernel = workersBalance() === 'kernel';
  const resolved: T[] = [];
  for (const target of targets) {
    if ('path' in target || (!kernel && target.port !== 0)) {
      resolved.push(target);
      continue;
    }
    try {
      resolved.push({ ...target, port: await probePort(target.host, target.port) });
    } catch (err) {
      throw Object.assign(err as Error, { target });
    }
  }
  process.env[TARGETS_ENV] = JSON.stringify(resolved);
  return resolved;
}

/** In a worker, the targets the primary prepared; undefined elsewhere. */
export function workerTargets(): Target[] | undefined {
  const shared = cluster.isWorker ? process.env[TARGETS_ENV] : undefined;
  return shared === undefined ? undefined : (JSON.parse(shared) as Target[]);
}

/** What one server's listen() gets: its own SO_REUSEPORT socket for TCP in a kernel-balanced worker. */
export function listenOptions(target: Target): net.ListenOptions & { reusePort?: boolean } {
  if ('path' in target) return { path: target.path };
  const { port, host } = target;
  if (!cluster.isWorker || workerTargets() === undefined || workersBalance() !== 'kernel') return { port, host };
  return { port, host, reusePort: true, exclusive: true };
}
