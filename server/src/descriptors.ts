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

/** Descriptors kept back for the process itself, duplicates and pipes in use: an eighth of the limit, at least 32. */
function margin(max: number): number {
  return Math.max(32, Math.floor(max / 8));
}

function heldByHolders(): number {
  let held = 0;
  for (const holder of holders) held += holder.held();
  return held;
}

/**
 * Notes a new connection holding `cost` descriptors (the front door's hold
 * two: Node's and the addon's duplicate); returns the call that notes its
 * end. When the connections and what the holders keep come within the
 * margin of the limit, the holders give back theirs: libuv closes a
 * connection it cannot accept, before any JS could answer it.
 */
export function connectionOpened(cost = 1): () => void {
  connections += cost;
  if (limit !== null && limit < Number.MAX_SAFE_INTEGER) {
    if (connections + heldByHolders() + margin(limit) > limit) relieveShortage();
  }
  let open = true;
  return () => {
    if (open) connections -= cost;
    open = false;
  };
}

/**
 * Whether a connection may take one descriptor more than it needs (the
 * front door's duplicate). Connections to come each need their own, and
 * how many will come is unknown: duplicates stop once connections hold a
 * quarter of what the margin leaves (a quarter is also what the open-file
 * table may keep, and gives back when connections close in).
 */
export function roomForDuplicate(): boolean {
  if (limit === null || limit >= Number.MAX_SAFE_INTEGER) return true;
  return connections + 2 <= (limit - margin(limit) - ownDescriptors()) / 4;
}

let own: number | null = null;

/**
 * The descriptors the process held when its first connection came (stdio,
 * libuv's epoll, signal pipes and eventfds, the listener, an io_uring ring:
 * 22 on Node 20, 25 on Node 22), read once from /proc/self/fd. Under a low
 * limit they are a tenth of it, which the margin alone does not cover.
 */
function ownDescriptors(): number {
  if (own === null) {
    try {
      own = fs.readdirSync('/proc/self/fd').length;
    } catch {
      own = 0;
    }
  }
  return own;
}
