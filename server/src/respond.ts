// Writes a planned answer: the head, then the body through the transport
// the engines pick, then the one honest finish (end, or destroy once any
// body byte may be out), and a record of what was sent for the access log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transports } from './engines';
import type { FileVersion } from './file-table';
import { writeHead } from './head';
import type { Answer } from './plan';

/**
 * What went out for one response with a body: nginx's $body_bytes_sent,
 * known once the transfer has called back (a cut-off transfer's count may
 * arrive after its connection closed).
 */
export class Delivery {
  bodyBytes = 0;
  settled = false;
  private waiters: (() => void)[] = [];

  /** Runs `cb` once the body's transfer has finished, now if it has. */
  whenSettled(cb: () => void): void {
    if (this.settled) cb();
    else this.waiters.push(cb);
  }

  settle(bytes: number): void {
    this.bodyBytes = bytes;
    this.settled = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const cb of waiters) cb();
  }
}

const deliveries = new WeakMap<ServerResponse, Delivery>();
/** Whether anyone reads the records (an access log): until then none is kept. */
let recording = false;

/** Keeps a Delivery for every response with a body from now on (the access log asks). */
export function recordDeliveries(): void {
  recording = true;
}

/** The record of `res`'s body, if sluice sent one. */
export function deliveryOf(res: ServerResponse): Delivery | undefined {
  return deliveries.get(res);
}

/**
 * Writes `answer` on `res` from `version` (whose reference this releases).
 * `visible`: others can see the response, so its fields are set one by one.
 * `claim` is told just before the first write.
 */
export function respond(
  transports: Transports,
  req: IncomingMessage,
  res: ServerResponse,
  answer: Answer,
  version: FileVersion,
  visible: boolean,
  claim: () => void,
): void {
  writeHead(res, answer.head, visible);
  claim();
  const body = answer.body;
  if (body === null) {
    version.release();
    res.end();
    return;
  }
  let delivery: Delivery | null = null;
  if (recording) {
    delivery = new Delivery();
    deliveries.set(res, delivery);
  }
  transports.pick(req, res, body).send(req, res, body, (err, bytes) => {
    delivery?.settle(bytes);
    // The file is shorter than its stat: never serve that version again.
    if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_SLUICE_TRUNCATED') version.invalidate();
    version.release();
    // Head and possibly body bytes are out: the only honest end is to close
    // the connection, never to end a short body.
    if (err) res.destroy();
    else res.end();
  });
}
