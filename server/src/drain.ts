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

interface DrainableSocket {
  once(event: 'close', cb: () => void): unknown;
  destroy(): unknown;
}

/** A one-line note on stderr. */
function note(message: string): void {
  process.stderr.write(`sluice: ${message}\n`);
}

/**
 * Drains `server` on the first SIGTERM or SIGINT, within `timeoutMs`
 * (0: close every connection at once).
 */
export function drainOnSignal(server: Drainable, timeoutMs: number): void {
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
  const connections = (): string => `${sockets.size} open connection${sockets.size === 1 ? '' : 's'}`;
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
