// One request's state as it passes from "which file" (finder.ts) to "what
// answer" (answers.ts), and what an adapter around the response promises.
import type { Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Outlet } from './deliver';
import type { FileVersion } from './file-table';
import type { HeaderTarget } from './head';
import type { ContentCoding } from './negotiate';
import { headerString, type Answer } from './plan';

/** Connect-style continuation: absent for the standalone server. */
export type Next = (err?: unknown) => void;

/**
 * A framework around the response (Fastify's reply, through an adapter).
 * `hijack()` is told once, just before the responder first writes to the
 * response (the framework lets go of it); the optional members hand the
 * framework the parts of the lifecycle it owns.
 */
export interface Claimant {
  hijack(): unknown;
  /** Where the head's fields are kept until the head is written; the response itself when absent. */
  readonly fields?: HeaderTarget;
  /** Runs, instead of the setHeaders option, once the file is found and before the answer is planned. */
  setHeaders?(path: string, stat: Stats): void;
  /** A directory was asked for and no index answered it: true if the framework answered (a listing). */
  directory?(path: string, trailingSlash: boolean): boolean;
  /** Sends the redirect to a directory's slash form itself. */
  redirect?(location: string): void;
  /**
   * When present, answers are not written but relayed: the status and
   * fields are set on `fields` and this gets the body as a stream (empty
   * when there is none) to send through the framework, so its hooks see
   * the payload.
   */
  relay?(body: Readable, path: string): void;
  /**
   * When present, answers are not written but held: the status and fields
   * are set on `fields` and this takes the planned answer with the version
   * its body comes from (and that version's reference). A fetch Response
   * is made of them.
   */
  hold?(answer: Answer, version: FileVersion): void;
}

/** Per-request state, passed along instead of closed over. */
export class Exchange implements Outlet {
  /** serve-static's 'file' event has fired: from now on every error goes to next(err). */
  found = false;
  /** The request's decoded path (what rules, listings and the SPA rule look at). */
  decoded = '/';
  /** The 404 fallbacks (SPA index, 404 page) have been tried: the next 404 is final. */
  fellBack = false;
  /** What this response is beyond a plain file: the SPA shell (200, no-cache) or the 404 page. */
  role: 'file' | 'shell' | 'not-found' = 'file';
  readonly fields: HeaderTarget;
  readonly relay: ((body: Readable, path: string) => void) | null;
  readonly hold: ((answer: Answer, version: FileVersion) => void) | null;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly next: Next | undefined,
    readonly originalUrl: string,
    readonly claimant: Claimant | null,
  ) {
    this.fields = claimant?.fields ?? res;
    this.relay = claimant?.relay !== undefined ? claimant.relay.bind(claimant) : null;
    this.hold = claimant?.hold !== undefined ? claimant.hold.bind(claimant) : null;
  }

  /** Whether anything but sluice can see the response (an adapter around it). */
  get adapted(): boolean {
    return this.next !== undefined || this.claimant !== null;
  }

  claim(): void {
    if (this.claimant !== null) this.claimant.hijack();
  }
}

/**
 * The file a request named, and the bytes to send for it: what the finder
 * hands to the answer.
 */
export interface Found {
  readonly original: FileVersion;
  /** A variant whose bytes replace the original's (a sibling on disk or a compress-cache entry), or null. */
  readonly variant: FileVersion | null;
  /** The variant's coding (null with no variant). */
  readonly coding: ContentCoding | null;
  /** Whether the answer depends on Accept-Encoding (variants exist or may be made). */
  readonly vary: boolean;
  /** Whose validators the answer carries: the source of a compress-cache variant; null for the sent bytes' own. */
  readonly validated: FileVersion | null;
}

/** `file` sent as it is. */
export function asItIs(file: FileVersion, vary: boolean): Found {
  return { original: file, variant: null, coding: null, vary, validated: null };
}

/** serve's test: JSON listings and errors for a client whose Accept names application/json. */
export function acceptsJson(req: IncomingMessage): boolean {
  return headerString(req.headers.accept)?.includes('application/json') === true;
}
