// One file answer inside Hono's middleware chain. Hono keeps the headers
// set with c.header() on its context until it builds a Response; sluice
// answers on the raw Node response instead, so once the file is found they
// are copied onto it (after the Content-Type, which they may replace, and
// before sluice's own validators and lengths). The chain learns how it went
// from `done`: the response sent (its status), a miss, or a refusal.
import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { Claimant } from '../responder';

export type Outcome = { kind: 'sent' } | { kind: 'miss' } | { kind: 'refused'; err: unknown };

export type TypeOf = (file: string) => string;

/** The fields set on the context so far, as [name, value] pairs (each Set-Cookie its own). */
export function contextFields(c: Context): Array<[string, string]> {
  const headers = c.newResponse(null).headers;
  const out: Array<[string, string]> = [];
  for (const [name, value] of headers) {
    if (name !== 'set-cookie') out.push([name, value]);
  }
  for (const cookie of headers.getSetCookie()) out.push(['set-cookie', cookie]);
  return out;
}

export class HonoClaim implements Claimant {
  private settled = false;
  private resolve: (outcome: Outcome) => void = () => {};
  /** Settles once: when the response has closed, or sluice has handed the request back. */
  readonly done = new Promise<Outcome>((resolve) => (this.resolve = resolve));

  constructor(
    private readonly c: Context,
    private readonly res: ServerResponse,
    /** The Content-Type for a file, or null when the context already has the one to send. */
    private readonly typeOf: TypeOf | null,
  ) {}

  hijack(): void {
    const res = this.res;
    if (res.closed) return this.settle({ kind: 'sent' });
    res.once('close', () => this.settle({ kind: 'sent' }));
  }

  setHeaders(file: string): void {
    const res = this.res;
    if (this.typeOf !== null) res.setHeader('Content-Type', this.typeOf(file));
    const cookies: string[] = [];
    for (const [name, value] of contextFields(this.c)) {
      if (name === 'set-cookie') cookies.push(value);
      else res.setHeader(name, value);
    }
    if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
  }

  /** sluice's next(): nothing (a miss, fall through) or the error a refusal carries. */
  readonly next = (err?: unknown): void => {
    this.settle(err === undefined ? { kind: 'miss' } : { kind: 'refused', err });
  };

  private settle(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }
}
