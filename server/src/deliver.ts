// Writes a planned answer: the head, then the body through the transport
// the engines pick, then the one honest finish (end, or destroy once any
// body byte may be out), and a record of what was sent for the access log.
// Or, where a framework must see the payload first, sets the head's fields
// where the framework keeps them and hands it the body as a stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Body } from './body';
import { bodyStream, type ResponseTransport, type SendDone, type Transports } from './engines';
import { CODES } from './errors';
import type { FileVersion } from './file-table';
import { writeHead, type HeaderTarget } from './head';
import type { Answer } from './plan';

/** Where one answer goes: the fields' target, who is told before the first write, and an optional relay. */
export interface Outlet {
  readonly fields: HeaderTarget;
  /** Told just before the first write to the response. */
  claim(): void;
  /**
   * When set, nothing is written: the status and fields are set on
   * `fields`, and this gets the body as a stream (an empty one for HEAD,
   * 304 and empty files) and the path of the file its bytes come from.
   */
  readonly relay: ((body: Readable, path: string) => void) | null;
  /**
   * When set, nothing is written either: the status and fields are set on
   * `fields`, and this takes the answer and the version its body comes from
   * (and the version's reference, which it must release).
   */
  readonly hold: ((answer: Answer, version: FileVersion) => void) | null;
}

/**
 * What went out for one response with a body: nginx's $body_bytes_sent,
 * known once the transfer has called back (a cut-off transfer's count may
 * arrive after its connection closed).
 */
export class Delivery {
  bodyBytes = 0;
  settled = false;
  /** The engine that moved the bytes, as the metrics name it (sendfile, memory, copy, ...). */
  engine = '';
  private waiters: (() => void)[] = [];

  /** Runs `cb` once the body's transfer has finished, now if it has. */
  whenSettled(cb: () => void): void {
    if (this.settled) cb();
    else this.waiters.push(cb);
  }

  settle(bytes: number, engine: string): void {
    this.bodyBytes = bytes;
    this.engine = engine;
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

/** A record for a body sent other than by an engine (the proxy's), or null while nobody reads them. */
export function trackDelivery(res: ServerResponse): Delivery | null {
  if (!recording) return null;
  const delivery = new Delivery();
  deliveries.set(res, delivery);
  return delivery;
}

/** The record of `res`'s body, if sluice sent one. */
export function deliveryOf(res: ServerResponse): Delivery | undefined {
  return deliveries.get(res);
}

/**
 * Writes `answer` on `res` from `version` (whose reference this releases).
 * `visible`: others can see the response, so its fields are set one by one.
 * `transport`: how `res` reaches its client (the engines' transportOf()).
 */
export function deliver(
  transports: Transports,
  req: IncomingMessage,
  res: ServerResponse,
  answer: Answer,
  version: FileVersion,
  visible: boolean,
  outlet: Outlet,
  transport: ResponseTransport,
): void {
  writeHead(res, outlet.fields, answer.head, visible);
  if (outlet.relay !== null) return relay(res, answer, version, outlet.relay);
  if (outlet.hold !== null) return outlet.hold(answer, version);
  outlet.claim();
  sendBody(transports, req, res, answer.body, version, transport);
}

/**
 * Sends `body` (null: none) on `res`, whose head is set, through the engine
 * the transports pick, then ends `res` (or destroys it once any body byte
 * may be out), releasing `version`'s reference. `transport`: how `res`
 * reaches its client, when the caller already asked the transports.
 */
export function sendBody(
  transports: Transports,
  req: IncomingMessage,
  res: ServerResponse,
  body: Body | null,
  version: FileVersion,
  transport?: ResponseTransport,
): void {
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
  const on = transport ?? transports.transportOf(req, res);
  const engine = transports.pick(on, body);
  const finish: SendDone = (err, bytes, via) => {
    delivery?.settle(bytes, via ?? engine.label ?? engine.name);
    // The file is shorter than its stat: never serve that version again.
    if ((err as NodeJS.ErrnoException | null)?.code === CODES.truncated) version.invalidate();
    version.release();
    // Head and possibly body bytes are out: the only honest end is to close
    // the connection, never to end a short body.
    if (err) res.destroy();
    else res.end();
  };
  engine.send(req, res, body, finish, on.fd);
}

/** What a relayed answer without a body streams: nothing (Fastify's HEAD routes still want a stream to drain). */
const NO_BODY: Body = { segments: [], length: 0 };

/** Hands the body over as a stream; the version is released when the stream is done or the response closes. */
function relay(res: ServerResponse, answer: Answer, version: FileVersion, to: (body: Readable, path: string) => void): void {
  let delivery: Delivery | null = null;
  if (recording && answer.body !== null) {
    delivery = new Delivery();
    deliveries.set(res, delivery);
  }
  const stream = bodyStream(answer.body ?? NO_BODY, (err, bytes) => {
    delivery?.settle(bytes, 'stream');
    if ((err as NodeJS.ErrnoException | null)?.code === CODES.truncated) version.invalidate();
    version.release();
  });
  // A hook may replace the payload and never read this stream: the
  // response's end still lets the file go.
  res.once('close', () => stream.destroy());
  to(stream, version.path);
}
