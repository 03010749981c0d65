// The process's file descriptor budget. Descriptors held only for speed
// (cached open files, pooled pipes) must never cost a connection or a body:
// the open-file table is sized from RLIMIT_NOFILE with room to spare, and
// when a descriptor cannot be had (EMFILE, ENFILE) or connections close in
// on the limit, those holders give theirs back.
import * as fs from 'node:fs';

/**
 * The soft RLIMIT_NOFILE of this process, or null where it cannot be read
 * (Node has no getrlimit; Linux shows it in /proc/self/limits).
 */
export function openFileLimit(): number | null {
  try {
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)?.[1];
    if (soft === undefined) return null;
    return soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft);
  } catch {
    return null;
  }
}

/** The open-file table's size when the limit is unknown or large. */
export const MAX_TABLE_FILES = 1000;

/**
 * Most files the open-file table keeps open under `limit`: a quarter of it,
 * so that connections, their socket duplicates and pipes have the other
 * three quarters (a transfer on splice holds three descriptors beside its
 * connection's own).
 */
export function tableBudget(limit: number | null): number {
  if (limit === null) return MAX_TABLE_FILES;
  return Math.max(0, Math.min(MAX_TABLE_FILES, Math.floor(limit / 4)));
}

/** Whether `code` says the process (EMFILE) or the system (ENFILE) is out of descriptors. */
export function isOutOfDescriptors(code: string | undefined): boolean {
  return code === 'EMFILE' || code === 'ENFILE';
}

/** Something that keeps descriptors only to go faster. */
export interface Holder {
  /** Descriptors it holds now. */
  held(): number;
  /** Gives back what it can spare; returns how many descriptors it closed. */
  relieve(): number;
}

const holders: Holder[] = [];
const limit = openFileLimit();
let connections = 0;

export function addHolder(holder: Holder): void {
  holders.push(holder);
}

/** Asks every holder to give descriptors back; returns how many were closed. */
export function relieveShortage(): number {
  let closed = 0;
  for (const holder of holders) closed += holder.relieve();
  return closed;
}

/**
 * Notes a new connection; returns the call that notes its end. When the
 * connections and what the holders keep come within an eighth of the limit
 * (base descriptors, duplicates and pipes in use need that much), the
 * holders give back theirs: libuv closes a connection it cannot accept,
 * before any JS could answer it.
 */
export function connectionOpened(): () => void {
  connections++;
  if (limit !== null && limit < Number.MAX_SAFE_INTEGER) {
    let held = 0;
    for (const holder of holders) held += holder.held();
    if (connections + held + Math.max(32, Math.floor(limit / 8)) > limit) relieveShortage();
  }
  let open = true;
  return () => {
    if (open) connections--;
    open = false;
  };
}
