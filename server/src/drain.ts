// Graceful shutdown of one serving process. The first SIGTERM or SIGINT
// starts the drain: stop accepting, let every response in flight finish,
// close connections as they fall idle, and exit 0 once none is left or at
// the deadline, closing whatever is still open then. A second SIGTERM
// changes nothing (supervisors repeat signals; the deadline still holds);
// a second SIGINT (Ctrl-C twice) closes every connection and exits at once.

import cluster from 'node:cluster';
import { frontDoorAware } from './engines/front-door';

/** Default drain deadline (ms): inside a container's 10 s stop grace period, with room to exit. */
export const DEFAULT_DRAIN_TIMEOUT = 8000;

/** How often connections that fell idle during the drain are closed (ms). */
const IDLE_SWEEP_MS = 250;

/** What the drain needs of an http.Server. */
export interface Drainable {
  on(event: 'connection', listener: (socket: DrainableSocket) => void): unknown;
  close(cb: () => void): unknown;
  /** http and https servers have these; an HTTP/2 server does not (its sockets are closed one by one). */
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
}

/** The connections a createServer server's front door holds: they have no Socket here. */
function heldByFrontDoor(server: Drainable): number {
  const door = (server as { sluice?: { frontDoor?: { stats(): { connections: number } } | null } }).sluice?.frontDoor;
  return door?.stats().connections ?? 0;
}

interface DrainableSocket {
  once(event: 'close', cb: () => void): unknown;
  destroy(): unknown;
}

/** A one-line note on stderr. */
function note(message: string): void {
  process.stderr.write(`sluice: ${message}\n`);
}

/** Several servers (one per listener) drained as one: close() calls back once every one closed. */
function allOf(servers: readonly Drainable[]): Drainable {
  if (servers.length === 1) return servers[0];
  const held = (): number => servers.reduce((n, s) => n + heldByFrontDoor(s), 0);
  return {
    on: (event, listener) => servers.forEach((s) => s.on(event, listener)),
    close(cb) {
      let left = servers.length;
      for (const s of servers) s.close(() => --left === 0 && cb());
    },
    // HTTP/2 servers have neither: then their sockets are closed one by one.
    closeIdleConnections: servers.every((s) => s.closeIdleConnections) ? () => servers.forEach((s) => s.closeIdleConnections?.()) : undefined,
    closeAllConnections: servers.every((s) => s.closeAllConnections) ? () => servers.forEach((s) => s.closeAllConnections?.()) : undefined,
    sluice: { frontDoor: { stats: () => ({ connections: held() }) } },
  } as Drainable;
}

/**
 * Drains `servers` on the first SIGTERM or SIGINT, within `timeoutMs`
 * (0: close every connection at once).
 */
export function drainOnSignal(servers: Drainable | readonly Drainable[], timeoutMs: number): void {
  const server = Array.isArray(servers) ? allOf(servers) : (servers as Drainable);
  let draining = false;
  let deadline = 0;
  const sockets = new Set<DrainableSocket>();
  server.on(
    'connection',
    frontDoorAware((socket: DrainableSocket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }),
  );
  const who = cluster.isWorker ? `worker ${process.pid}: ` : '';
  const connections = (): string => {
    const open = sockets.size + heldByFrontDoor(server);
    return `${open} open connection${open === 1 ? '' : 's'}`;
  };
  const stopNow = (): void => {
    if (sockets.size > 0) note(`${who}closing ${connections()} still open`);
    if (server.closeAllConnections) server.closeAllConnections();
    else for (const socket of sockets) socket.destroy();
    process.exit(0);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!draining) {
      draining = true;
      deadline = Date.now() + timeoutMs;
      note(`${who}draining ${connections()} (up to ${timeoutMs} ms)`);
      server.close(() => {
        note(`${who}drained; exiting`);
        process.exit(0);
      });
      server.closeIdleConnections?.();
      // A kept-alive connection whose response ends during the drain would
      // otherwise wait for its keep-alive timeout.
      setInterval(() => server.closeIdleConnections?.(), IDLE_SWEEP_MS).unref();
      setTimeout(stopNow, timeoutMs).unref();
      return;
    }
    if (signal === 'SIGINT') return stopNow();
    note(`${signal} again: still draining, ${Math.max(0, deadline - Date.now())} ms left at most`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
