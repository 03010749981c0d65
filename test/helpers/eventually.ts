// Waiting for an asynchronous release to show. Closes in this codebase finish
// a loop turn or more after the event that causes them (uv_close callbacks,
// io_uring completions, fs.close on the thread pool), so a count sampled once
// right after a close races with them: a test waits for the count instead,
// within a budget that still fails on a real leak.

/** Resolves once `predicate` holds, polling every `intervalMs`; rejects after `ms` with `what()`. */
export async function eventually(predicate: () => boolean, ms: number, what: string | (() => string), intervalMs = 20): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
