// Graceful shutdown of one serving process. The first SIGTERM or SIGINT
// starts the drain: stop accepting, let every response in flight finish,
// close connections as they fall idle, and exit 0 once none is left or at
// the deadline, closing whatever is still open then. A second SIGTERM
// changes nothing (supervisors repeat signals; the deadline still holds);
// a second SIGINT (Ctrl-C twice) closes every connection and exits at once.

/** Default drain deadline (ms): inside a container's 10 s stop grace period, with room to exit. */
export const DEFAULT_DRAIN_TIMEOUT = 8000;

/** How often connections that fell idle during the drain are closed (ms). */
const IDLE_SWEEP_MS = 250;

/** What the drain needs of an http.Server. */
export interface Drainable {
  close(cb: () => void): unknown;
  closeIdleConnections(): void;
  closeAllConnections(): void;
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
  const stopNow = (): void => {
    server.closeAllConnections();
    process.exit(0);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!draining) {
      draining = true;
      deadline = Date.now() + timeoutMs;
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      // A kept-alive connection whose response ends during the drain would
      // otherwise wait for its keep-alive timeout.
      setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS).unref();
      setTimeout(stopNow, timeoutMs).unref();
      return;
    }
    if (signal === 'SIGINT') return stopNow();
    note(`${signal} again: still draining, ${Math.max(0, deadline - Date.now())} ms left at most`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
