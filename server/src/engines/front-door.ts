// The front door: connections the server accepts go first to the addon,
// which answers plain GET/HEAD requests itself and hands every other
// connection to Node's HTTP server, at a request boundary, with the unread
// bytes still in the socket.
//
// What the addon answers with is always what Node's HTTP layer wrote: a
// request head it has no reply for is replayed here, through the server's
// own 'connection' and 'request' path, on a CaptureSocket; the head Node
// writes and the body it describes become the reply. A reply backed by a
// file version that is still trusted (the file table's revalidation window)
// is kept for later requests with the very same head bytes, for no longer
// than that version is trusted. So policy (paths, dotfiles, symlinks, rules,
// headers, conditionals, codings) is decided by the same code as without a
// front door, and a kept reply is never staler than a cached file today.
//
// Ownership: the accepted TCP handle stays here (so its fd stays open) until
// the addon says the connection is over (the handle is closed) or Node's
// (the handle goes to the server's own accept path). The addon works on a
// duplicate it closes first.
import type * as http from 'node:http';
import { connectionOpened, roomForDuplicate } from '../descriptors';
import { native, type FrontDoorSendTally, type FrontDoorStats, type NativeFrontDoor } from '../native';
import { CaptureSocket, isCaptureSocket, type CapturedReply } from './capture';
import { countConnection, endpointsOf, interceptAccepts, type AcceptedHandle, type Endpoints } from './socket';

export interface FrontDoorOptions {
  /** Idle time between requests before a connection is closed (the server's keepAliveTimeout). */
  keepAliveMs: number;
  /** Idle time before a connection's first request, after which it goes to Node (whose headersTimeout applies). */
  firstRequestMs: number;
  /** The idle-send timeout (0: none). */
  sendTimeoutMs: number;
  /** Most bytes sent for one connection before the others get a turn. */
  maxChunk: number;
  /** Files up to this size are sent from memory with the head. */
  smallMax: number;
  /**
   * Coded variants are made in the background (the compress cache): an
   * identity reply to a request that accepts a coding may be followed by
   * the variant, so it is not kept.
   */
  codingsPending: boolean;
}

/**
 * A response the front door sent without Node's HTTP layer (no 'request'
 * event saw it), as the server's 'frontDoorResponse' event gives it: what
 * an access log needs.
 */
export interface FrontDoorResponse {
  remoteAddress: string | undefined;
  method: string;
  /** The request target as sent. */
  url: string;
  httpVersion: string;
  /** The request's fields, names lower-cased, repeated ones joined with ', '. */
  headers: Record<string, string>;
  statusCode: number;
  /** Body bytes actually sent (fewer than Content-Length when cut off). */
  bodyBytes: number;
  /** From reading the request head to the reply's last byte (or its end). */
  ms: number;
}

/** The server event that carries each FrontDoorResponse. */
export const FRONT_DOOR_RESPONSE = 'frontDoorResponse';

const AWARE = Symbol('sluice.frontDoorAware');

/**
 * Marks a 'request' or 'connection' listener as knowing the front door
 * (replayed requests on a CaptureSocket, kept replies reported as
 * 'frontDoorResponse'). A listener added without the mark turns the front
 * door off for the server: its contract was every request and every
 * connection.
 */
export function frontDoorAware<T extends (...args: never[]) => unknown>(listener: T): T {
  return Object.assign(listener, { [AWARE]: true });
}

/** Whether `listener` was marked with frontDoorAware(). */
export function isAware(listener: unknown): boolean {
  return typeof listener === 'function' && (listener as { [AWARE]?: boolean })[AWARE] === true;
}

export interface FrontDoorControl {
  stats(): FrontDoorStats;
  /** Counts every reply sent from now on without a call into JS per reply (the metrics); sendTally() reads the counts. */
  tallySends(bounds: readonly number[]): void;
  sendTally(): FrontDoorSendTally;
  /**
   * Writes the access log line of every reply it sends from now on with
   * `write`: the lines access-log.ts makes for replies Node sends, for a
   * client that is the connection's peer, made in the addon and handed
   * over in batches (64 KiB, or 200 ms after the first line) as nginx's
   * access_log buffer= flush= writes them, with no call into JS per reply.
   * takeLogLines() gives what is held when the process exits.
   */
  logReplies(opts: { format: 'combined' | 'json'; health?: string | null }, write: (lines: Buffer) => void): void;
  takeLogLines(): Buffer;
  /** Whether it takes the server's connections (false before listen, and where the server has no TCP listener of its own). */
  active(): boolean;
  /** Why it takes none, once listening ('' while it does). */
  offReason(): string;
}

/** How long a replayed request may take before its connection goes to Node instead. */
const REPLAY_MS = 10_000;

/** Kept replies whose versions can still be invalidated by token; past this the oldest are forgotten. */
const MAX_TOKENS = 8192;

/** Why this process has no front door ('' when it has one). */
export function frontDoorUnavailableReason(): string {
  if (!native.binding) return native.reason;
  if (typeof native.binding.FrontDoor !== 'function') return 'the addon was built without the front door';
  return '';
}

interface Held {
  handle: AcceptedHandle;
  endpoints: Endpoints;
  /** Gives back the connection's place in the descriptor budget. */
  release: () => void;
}

interface Replay {
  id: number;
  settled: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Whether Node's reply to this request may be sent again for the same head
 * bytes: a whole 200 for GET or HEAD that sets no cookie. Anything else is
 * replayed every time.
 */
function isReusable(req: http.IncomingMessage, res: http.ServerResponse, codingsPending: boolean): boolean {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || res.statusCode !== 200 || res.hasHeader('set-cookie')) return false;
  return !(codingsPending && req.headers['accept-encoding'] !== undefined && !res.hasHeader('content-encoding'));
}

class Door {
  private readonly door: NativeFrontDoor;
  private readonly held = new Map<number, Held>();
  private readonly replays = new Map<CaptureSocket, Replay>();
  /** Kept replies' tokens → how to take their file version out of the table. */
  private readonly invalidators = new Map<number, () => void>();
  private nextToken = 1;
  private toNode: ((handle: AcceptedHandle) => void) | null = null;
  /** Everything goes to Node (a listener that expects to see every request came along). */
  private passing = false;

  constructor(
    private readonly server: http.Server,
    private readonly opts: FrontDoorOptions,
    FrontDoor: NonNullable<NonNullable<typeof native.binding>['FrontDoor']>,
  ) {
    this.door = new FrontDoor(
      {
        onMiss: (id, head) => this.replay(id, head),
        onHandOver: (id) => this.giveToNode(id),
        onClosed: (id, _reason, shrunk) => this.closed(id, shrunk),
        onSent: (id, head, status, bytes, ms) => this.sent(id, head, status, bytes, ms),
      },
      { keepAliveMs: opts.keepAliveMs, firstRequestMs: opts.firstRequestMs, sendTimeoutMs: opts.sendTimeoutMs, maxChunk: opts.maxChunk },
    );
  }

  /** Steps aside for good: new connections go to Node as accepted, held ones at their next request boundary. */
  passThrough(): void {
    if (this.passing) return;
    this.passing = true;
    this.door.passThrough();
  }

  isPassing(): boolean {
    return this.passing;
  }

  /** Reports sends while anything listens for them (copying each request head costs). */
  followListeners(): void {
    this.server.on('newListener', (event, listener) => {
      if ((event === 'request' || event === 'connection') && !isAware(listener)) this.passThrough();
    });
    const update = (): void => this.door.reportSends(this.server.listenerCount(FRONT_DOOR_RESPONSE) > 0);
    // 'newListener' comes before the listener is added, 'removeListener' after.
    this.server.on('newListener', (event) => event === FRONT_DOOR_RESPONSE && this.door.reportSends(true));
    this.server.on('removeListener', (event) => event === FRONT_DOOR_RESPONSE && update());
    update();
  }

  private sent(id: number, head: Buffer, status: number, bodyBytes: number, ms: number): void {
    const held = this.held.get(id);
    const parsed = parseHead(head);
    if (parsed === null) return;
    const response: FrontDoorResponse = { remoteAddress: held?.endpoints.remoteAddress, ...parsed, statusCode: status, bodyBytes, ms };
    this.server.emit(FRONT_DOOR_RESPONSE, response);
  }

  /** Starts taking the server's connections; false where it has no TCP listener of its own. */
  start(): boolean {
    // Users set keepAliveTimeout after createServer (behind a load balancer,
    // say): the value at listen time is the one Node would use.
    this.door.setKeepAlive(this.server.keepAliveTimeout);
    this.toNode = interceptAccepts(this.server, (handle) => this.take(handle));
    return this.toNode !== null;
  }

  /** What FrontDoorControl passes to the addon as it is: counts, tallies, log lines. */
  get counting(): Pick<NativeFrontDoor, 'stats' | 'tallySends' | 'sendTally' | 'logReplies' | 'takeLogLines'> {
    return this.door;
  }

  drain(): void {
    this.door.drain();
  }

  closeIdle(): void {
    this.door.closeIdle();
  }

  closeAll(): void {
    this.door.closeAll();
    for (const [socket, replay] of this.replays) this.settle(socket, replay);
  }

  private take(handle: AcceptedHandle): boolean {
    // Descriptors running short: Node takes it with the one it has.
    if (this.passing || !roomForDuplicate()) return false;
    const endpoints = endpointsOf(handle);
    const id = this.door.adopt(handle.fd, endpoints.remoteAddress ?? '');
    if (id < 0) return false; // no duplicate (EMFILE, say): Node takes it as it is
    this.held.set(id, { handle, endpoints, release: connectionOpened(2) });
    countConnection(this.server, 1);
    return true;
  }

  private giveToNode(id: number): void {
    const held = this.held.get(id);
    if (held === undefined || this.toNode === null) return;
    this.held.delete(id);
    held.release();
    // Node counts the connection itself from here (before ours goes, so a
    // closing server never sees zero in between).
    this.toNode(held.handle);
    countConnection(this.server, -1);
  }

  private closed(id: number, shrunk: number): void {
    // The file of a kept reply is shorter than its stat: the next request
    // opens it afresh, as after a short send without the front door.
    if (shrunk > 0) {
      this.invalidators.get(shrunk)?.();
      this.invalidators.delete(shrunk);
    }
    const held = this.held.get(id);
    if (held === undefined) return;
    this.held.delete(id);
    held.handle.close();
    held.release();
    countConnection(this.server, -1);
  }

  /** Runs `head` through the server as Node would have, on a CaptureSocket. */
  private replay(id: number, head: Buffer): void {
    const held = this.held.get(id);
    if (held === undefined) return;
    const socket = new CaptureSocket(held.endpoints, (reply, res) => this.answerWithBody(socket, reply, res), this.opts.smallMax);
    const replay: Replay = { id, settled: false, timer: setTimeout(() => this.settle(socket, replay), REPLAY_MS).unref() };
    this.replays.set(socket, replay);
    // No request came of it (Node refused the head), or it broke off.
    socket.once('close', () => this.settle(socket, replay));
    this.server.emit('connection', socket);
    socket.push(head);
  }

  /** Called for every request on the server: follows the replayed ones. */
  track(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    if (!isCaptureSocket(socket)) return;
    const replay = this.replays.get(socket);
    if (replay === undefined) return;
    res.once('finish', () => this.answerWithoutBody(socket, replay, req, res));
    res.once('close', () => this.settle(socket, replay));
  }

  /** The capture engine's reply (a file body), before its version is let go. */
  private answerWithBody(socket: CaptureSocket, reply: CapturedReply, res: http.ServerResponse): void {
    const replay = this.replays.get(socket);
    if (replay === undefined || replay.settled) return;
    const left = reply.trustedUntil - Date.now();
    const keep = isReusable(res.req, res, this.opts.codingsPending) && left > 0 ? left : 0;
    const token = this.tokenFor(reply.invalidate);
    replay.settled = this.door.answer(replay.id, reply.head, reply.inline, reply.fd, reply.offset, reply.length, !res.shouldKeepAlive, keep, token);
  }

  private tokenFor(invalidate: () => void): number {
    const token = this.nextToken++;
    this.invalidators.set(token, invalidate);
    if (this.invalidators.size > MAX_TOKENS) this.invalidators.delete(this.invalidators.keys().next().value as number);
    return token;
  }

  /** A reply without a file body (304, HEAD, a generated page): the bytes Node wrote, sent once. */
  private answerWithoutBody(socket: CaptureSocket, replay: Replay, _req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!replay.settled) {
      replay.settled = this.door.answer(replay.id, Buffer.concat(socket.written), null, -1, 0, 0, !res.shouldKeepAlive, 0, 0);
    }
    this.settle(socket, replay);
  }

  /** Ends a replay: unanswered, its connection goes to Node, which reads the request again itself. */
  private settle(socket: CaptureSocket, replay: Replay): void {
    if (!this.replays.delete(socket)) return;
    clearTimeout(replay.timer);
    if (!replay.settled) {
      replay.settled = true;
      this.door.handOver(replay.id);
    }
    socket.destroy();
  }
}

/** The request line and fields of a head the addon classified plain (so: well formed, CRLF line ends). */
function parseHead(head: Buffer): Pick<FrontDoorResponse, 'method' | 'url' | 'httpVersion' | 'headers'> | null {
  const lines = head.toString('latin1').split('\r\n');
  const line = /^(GET|HEAD) (\S+) HTTP\/(1\.[01])$/.exec(lines[0] ?? '');
  if (line === null) return null;
  // No prototype: a field named __proto__ is just a field.
  const headers = Object.create(null) as Record<string, string>;
  for (const field of lines.slice(1)) {
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon).toLowerCase();
    const value = field.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { method: line[1], url: line[2], httpVersion: line[3], headers };
}

/**
 * Puts a front door before `server` once it listens (TCP only; TLS and
 * HTTP/2 servers are not given one). Returns null without the addon's
 * front door.
 */
export function attachFrontDoor(server: http.Server, opts: FrontDoorOptions): FrontDoorControl | null {
  const FrontDoor = native.binding?.FrontDoor;
  if (FrontDoor === undefined) return null;
  const door = new Door(server, opts, FrontDoor);
  door.followListeners();
  let started = false;
  server.prependListener(
    'request',
    frontDoorAware((req: http.IncomingMessage, res: http.ServerResponse) => door.track(req, res)),
  );
  server.on('listening', () => {
    if (!started) started = door.start();
  });
  wrapClosing(server, door);
  const offReason = (): string => {
    if (door.isPassing()) return "a 'request' or 'connection' listener not marked frontDoorAware was added";
    if (started || !server.listening) return '';
    // The addon drops an answered head with recv(MSG_TRUNC) and no buffer, which TCP allows and Unix sockets refuse (EFAULT).
    if (typeof server.address() === 'string') return 'a Unix socket: the front door answers TCP connections only';
    return 'the server has no TCP listener of its own: its connections come through node:cluster';
  };
  return {
    stats: () => door.counting.stats(),
    tallySends: (bounds) => door.counting.tallySends(bounds),
    sendTally: () => door.counting.sendTally(),
    logReplies: (opts, write) => door.counting.logReplies(opts, write),
    takeLogLines: () => door.counting.takeLogLines(),
    active: () => started && !door.isPassing(),
    offReason,
  };
}

/** Makes the server's close calls reach the connections the front door holds. */
function wrapClosing(server: http.Server, door: Door): void {
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  const close = server.close.bind(server);
  server.closeIdleConnections = () => {
    door.closeIdle();
    closeIdle();
  };
  server.closeAllConnections = () => {
    door.closeAll();
    closeAll();
  };
  server.close = (cb?: (err?: Error) => void) => {
    door.drain();
    close(cb);
    return server;
  };
}
