// The idle-send timeout: a transfer that moves no byte for `timeoutMs`
// (a client reading 1 byte a second, or not at all) is cut off, so it
// cannot hold a connection, an fd and a pipe forever. One timer serves
// every transfer of the process; it runs only while transfers wait.

export interface Watched {
  /** Bytes moved so far. */
  progress(): number;
  /** Called once when the transfer stalled for too long. */
  onStall(): void;
}

interface Entry {
  watched: Watched;
  timeoutMs: number;
  lastBytes: number;
  lastChange: number;
}

const entries = new Set<Entry>();
let timer: NodeJS.Timeout | null = null;
/** How often stalls are looked for; a stall is noticed within this much past its timeout. */
const TICK_MS = 1000;

function tick(): void {
  const now = Date.now();
  for (const entry of entries) {
    const bytes = entry.watched.progress();
    if (bytes !== entry.lastBytes) {
      entry.lastBytes = bytes;
      entry.lastChange = now;
    } else if (now - entry.lastChange >= entry.timeoutMs) {
      entries.delete(entry);
      entry.watched.onStall();
    }
  }
  if (entries.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

/** Watches a transfer until the returned function is called. `timeoutMs` 0 disables. */
export function watchTransfer(watched: Watched, timeoutMs: number): () => void {
  if (timeoutMs <= 0) return () => {};
  const entry: Entry = { watched, timeoutMs, lastBytes: watched.progress(), lastChange: Date.now() };
  entries.add(entry);
  if (!timer) {
    timer = setInterval(tick, Math.min(TICK_MS, timeoutMs));
    timer.unref();
  }
  return () => {
    entries.delete(entry);
  };
}

/** Transfers being watched (for tests). */
export function watchedCount(): number {
  return entries.size;
}
