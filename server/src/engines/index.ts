// The engine table: what this machine supports, the choice made once at
// construction (nginx picks its event and send methods the same way), and
// pick(): every per-response transport decision, in one place.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Body } from '../body';
import { fallbacks, type FallbackReason } from '../counters';
import { engineUnavailableError } from '../errors';
import { native, warnIfNativeMissing } from '../native';
import { captureEngine, isCaptureSocket } from './capture';
import { createCopyEngine } from './copy';
import { nativeTransferEngine, type NativeEngineOptions } from './native-transfer';
import { isWriteWrapped, pipedEngine } from './piped';
import { isStreamResponse } from './h2-stream';
import { fitsInMemory, smallBodyEngine } from './small';
import { socketFd } from './socket';
import { uringEngine, uringUnavailableReason } from './uring';
import type { Engine, EngineName } from './types';

export type { Engine, EngineName, SendDone } from './types';
export type { NativeEngineOptions } from './native-transfer';
export { isQueued, responseInFlight, whenTurn } from './socket';
export { answerOnStreams, answeredOnStream, type StreamAnswering, StreamRequest, StreamResponse } from './h2-stream';

/**
 * How one response reaches its client, as transportOf() finds it:
 * - 'capture': a request the front door replays (its reply is recorded);
 * - 'http2': an HTTP/2 stream (Node frames every byte);
 * - 'wrapped-write': someone replaced res.write (the bytes must go through it);
 * - 'tls': no fd file bytes can go to (TLS, or a connection already gone);
 * - 'plain': plain HTTP/1 over TCP or a Unix socket, with its fd.
 */
export type TransportKind = 'capture' | 'http2' | 'wrapped-write' | 'tls' | 'plain';

export interface ResponseTransport {
  readonly kind: TransportKind;
  /**
   * Whether a head given to writeHead() as a list goes out as it is: a
   * plain HTTP/1 response whose writes reach Node's own code, or an HTTP/2
   * stream answered on the core API.
   */
  readonly headAsList: boolean;
  /** The connection's fd ('plain'), else -1. */
  readonly fd: number;
}

export interface EngineReport {
  name: EngineName;
  available: boolean;
  /** Why not, when unavailable ('' when available). */
  reason: string;
}

/**
 * Under 'auto' and 'io_uring', files up to this size are written from memory
 * together with the head (engines/small.ts); larger ones go zero-copy. See
 * README for the figures behind it.
 */
export const AUTO_SMALL_FILE_MAX = 16 * 1024;

/**
 * The default bound over TLS (createSecureServer with no engine named):
 * every body is copied through user memory there anyway, and a read per
 * request cost more than the encryption (64 KiB, HTTP/1.1: 182 against
 * 82 µs of server CPU a request; README, Engines: HTTPS).
 */
export const TLS_SMALL_FILE_MAX = 64 * 1024;

/** How chooseTransports builds the engines. */
export interface TransportOptions extends NativeEngineOptions {
  /** Files up to this size go from memory with the head; null: the engine's default (smallFileMaxFor). */
  smallFileMax: number | null;
}

/**
 * The default smallFileMax: 'auto' and 'io_uring' send small files from
 * memory (a ring round trip through io-wq costs more than the copy of a
 * few KiB); a named 'sendfile', 'splice' or 'copy' moves every body.
 */
export function smallFileMaxFor(choice: EngineName | 'auto'): number {
  return choice === 'auto' || choice === 'io_uring' ? AUTO_SMALL_FILE_MAX : 0;
}

/**
 * What 'auto' tries, in order: sendfile is the fastest engine for whole
 * files on every size measured (README, Engines); copy when there is no addon.
 */
export const AUTO_ORDER: readonly EngineName[] = ['sendfile', 'copy'];
export const ENGINE_NAMES: readonly EngineName[] = ['io_uring', 'splice', 'sendfile', 'copy'];

/** io_uring's probe makes a ring: run it once per process. */
let uringReason: string | undefined;

function probe(name: EngineName): EngineReport {
  if (name === 'copy') return { name, available: true, reason: '' };
  if (!native.binding) return { name, available: false, reason: native.fix ? `${native.reason}; ${native.fix}` : native.reason };
  if (name === 'io_uring') {
    uringReason ??= uringUnavailableReason(native.binding);
    return { name, available: uringReason === '', reason: uringReason };
  }
  if (name === 'sendfile' || name === 'splice') return { name, available: true, reason: '' };
  return { name, available: false, reason: `the ${name} engine is not part of this build` };
}

/** What each engine can do on this machine, and why not. */
export function engines(): EngineReport[] {
  return ENGINE_NAMES.map(probe);
}

function buildEngine(name: EngineName, opts: NativeEngineOptions): Engine {
  const binding = native.binding;
  if (name === 'sendfile' && binding) {
    return nativeTransferEngine('sendfile', binding, binding.MOVER_SENDFILE, 'sendfile', opts);
  }
  if (name === 'splice' && binding) {
    return nativeTransferEngine('splice', binding, binding.MOVER_SPLICE, 'splice', opts);
  }
  if (name === 'io_uring' && binding) return uringEngine(binding, opts);
  return createCopyEngine(opts.sendTimeout);
}

/**
 * The engines a handler sends with, chosen once, and pick(), which chooses
 * among them for each response.
 */
export class Transports {
  private readonly copy: Engine;

  /**
   * `engine` moves plain HTTP/1 bodies; `smallMax` > 0 sends files up to that
   * size from memory with the head ('auto'), on every transport.
   */
  constructor(
    readonly engine: Engine,
    private readonly smallMax: number,
    sendTimeout: number,
    /** One line for logs: what was chosen and why. */
    readonly note: string,
  ) {
    this.copy = engine.name === 'copy' ? engine : createCopyEngine(sendTimeout);
  }

  get name(): EngineName {
    return this.engine.name;
  }

  /**
   * How `res` reaches its client, asked once per response: the answer
   * decides how its head is written and, through pick(), which engine
   * moves its body.
   */
  transportOf(req: IncomingMessage, res: ServerResponse): ResponseTransport {
    const wrapped = isWriteWrapped(res);
    const headAsList = (req.httpVersionMajor === 1 && !wrapped) || isStreamResponse(res);
    if (isCaptureSocket(req.socket)) return { kind: 'capture', headAsList, fd: -1 };
    if (req.httpVersionMajor === 2) return { kind: 'http2', headAsList, fd: -1 };
    if (wrapped) return { kind: 'wrapped-write', headAsList, fd: -1 };
    const fd = socketFd(res.socket ?? req.socket);
    return { kind: fd < 0 ? 'tls' : 'plain', headAsList, fd };
  }

  /** The engine that moves `body` on a response whose transport is `transport` (from transportOf()). */
  pick(transport: ResponseTransport, body: Body): Engine {
    // A request the front door replays: its reply is recorded, not sent.
    if (transport.kind === 'capture') return captureEngine;
    const small = this.smallMax > 0 && fitsInMemory(body, this.smallMax);
    // HTTP/2 frames every byte of the body (even over cleartext h2c, where a
    // raw fd would be reachable): only Node may write that socket. Its
    // streams time out on their own, so copy needs no idle-send timer there.
    // (Its compatibility response has a write of its own: not a wrapper.)
    if (transport.kind === 'http2') return small ? smallBodyEngine : this.fallBack('http2', HTTP2_COPY);
    // Someone wrapped res.write (compression, say): the bytes must go through it.
    if (transport.kind === 'wrapped-write') return this.fallBack('wrapped-write', pipedEngine);
    if (small) return smallBodyEngine;
    // TLS encrypts in user space: there is no fd to send file bytes to.
    if (transport.kind === 'tls') return this.fallBack('tls', this.copy);
    return this.engine;
  }

  /** `copy`, counted as a fallback when this handler's engine is a zero-copy one. */
  private fallBack(reason: FallbackReason, copy: Engine): Engine {
    if (this.engine !== this.copy) fallbacks[reason]++;
    return copy;
  }
}

const HTTP2_COPY = createCopyEngine(0);

/**
 * io_uring_setup refused outright is a policy, not a bug: seccomp (Docker's
 * default profile answers EPERM, podman's ENOSYS), kernel.io_uring_disabled,
 * or a kernel built without it. Say so where an explicit choice fails.
 */
function withHint(reason: string): string {
  if (!/^io_uring_setup: (EPERM|ENOSYS)$/.test(reason)) return reason;
  return `${reason} (blocked by seccomp, such as a container's default profile, by kernel.io_uring_disabled, or absent from this kernel; in a container, run with a profile that allows io_uring_*, such as sluice's deploy/seccomp-io_uring.json)`;
}

/**
 * Resolves an engine name. A named engine must be available, else this
 * throws ERR_SLUICE_ENGINE_UNAVAILABLE with the reason; 'auto' falls back
 * and says what it chose.
 */
export function chooseTransports(choice: EngineName | 'auto', opts: TransportOptions): Transports {
  const smallMax = opts.smallFileMax ?? smallFileMaxFor(choice);
  if (choice !== 'auto') {
    const report = probe(choice);
    if (!report.available) throw engineUnavailableError(choice, withHint(report.reason));
    return new Transports(buildEngine(choice, opts), smallMax, opts.sendTimeout, `engine ${choice}`);
  }
  const name = AUTO_ORDER.find((n) => probe(n).available) ?? 'copy';
  return new Transports(buildEngine(name, opts), smallMax, opts.sendTimeout, autoNote(name));
}

/**
 * What auto chose, and which engines this machine lacks and why
 * (io_uring_setup: EPERM under Docker's default seccomp profile, say),
 * engines with one reason named together. An addon that is missing but
 * could be built is said once, on stderr, with the fix, instead.
 */
function autoNote(name: EngineName): string {
  if (!native.binding && native.fix) {
    warnIfNativeMissing();
    return `engine ${name} (auto): ${native.reason}`;
  }
  const byReason = new Map<string, EngineName[]>();
  for (const r of ENGINE_NAMES.map(probe).filter((r) => !r.available)) byReason.set(r.reason, [...(byReason.get(r.reason) ?? []), r.name]);
  const why = [...byReason].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ');
  return `engine ${name} (auto)${why ? ` (unavailable here: ${why})` : ''}`;
}

export { bodyStream } from './stream';
