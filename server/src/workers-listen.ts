// How --workers share one port. Where Node's server.listen() takes
// `reusePort` (22.12+, 23.1+), every worker binds a socket of its own with
// SO_REUSEPORT and the kernel spreads new connections across them: no
// connection passes through the primary. Elsewhere, or with
// SLUICE_WORKERS_BALANCE=cluster, node:cluster's primary accepts every
// connection and hands it to a worker (round robin).
import cluster from 'node:cluster';
import * as net from 'node:net';

export type WorkersBalance = 'kernel' | 'cluster';

/** Set by the primary for its workers: the port every worker binds (kernel balance only). */
const PORT_ENV = 'SLUICE_WORKERS_PORT';

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
 * In the primary, before any worker starts. For the kernel balance, binds
 * host:port once without SO_REUSEPORT, and closes it again: a port another
 * process holds (with SO_REUSEPORT or not) is refused here with EADDRINUSE
 * instead of being silently shared, and port 0 becomes one concrete port
 * that every worker, and every replacement, binds. Rejects with the
 * listen error.
 */
export async function prepareWorkersPort(host: string, port: number): Promise<WorkersBalance> {
  const balance = workersBalance();
  if (balance !== 'kernel') return balance;
  const probe = net.createServer();
  try {
    process.env[PORT_ENV] = String(await listenOnce(probe, port, host));
  } finally {
    await new Promise((resolve) => probe.close(resolve));
  }
  return balance;
}

/** The port prepareWorkersPort() bound for kernel-balanced workers, if it did. */
export function sharedWorkersPort(): number | undefined {
  const shared = process.env[PORT_ENV];
  return shared === undefined ? undefined : Number(shared);
}

/** What one server's listen() gets: its own SO_REUSEPORT socket in a kernel-balanced worker. */
export function listenOptions(port: number, host: string): net.ListenOptions & { reusePort?: boolean } {
  const shared = process.env[PORT_ENV];
  if (!cluster.isWorker || shared === undefined) return { port, host };
  return { port: Number(shared), host, reusePort: true, exclusive: true };
}
