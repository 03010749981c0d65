import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Body } from '../body';

export type EngineName = 'io_uring' | 'splice' | 'sendfile' | 'copy';

/**
 * Called exactly once, with the body bytes handed to the connection. With an
 * error the response is broken: the caller destroys the connection. `via`:
 * the engine that moved the bytes, when another than the one asked (a
 * zero-copy engine out of descriptors hands the body to copy).
 */
export type SendDone = (err: Error | null, bytes: number, via?: string) => void;

/**
 * Moves a response body. The status line and headers are already set on
 * `res`; the engine sends the head through Node (or with the body), then the
 * body's bytes, and reports back. It never ends the response and knows
 * nothing of HTTP. `fd` is the connection's, found once for the response
 * (-1 where bytes cannot go straight to it): only a zero-copy engine uses it.
 */
export interface Engine {
  readonly name: EngineName;
  /** What the metrics call it, where that differs from `name` (memory, piped). */
  readonly label?: string;
  send(req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone, fd: number): void;
}
