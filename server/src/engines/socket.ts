// The only module that touches Node's socket internals: it finds the fd
// behind a response and decides when the body may start on it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';

interface HandleWithFd {
  fd?: number;
}

/**
 * The kernel fd of a plain TCP or Unix-socket connection, or -1 where bytes
 * cannot go straight to the socket: TLS (Node encrypts in user space),
 * HTTP/2 (frames), a socket without a native handle (tests' fake sockets).
 */
export function socketFd(socket: Socket | null | undefined): number {
  if (!socket || socket.destroyed) return -1;
  if ((socket as Socket & { encrypted?: boolean }).encrypted) return -1;
  const handle = (socket as unknown as { _handle?: HandleWithFd | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/**
 * Calls `ready(socket)` once this response owns its socket and every head
 * byte has left Node's buffers, so native writes on the fd come after the
 * head and before any later pipelined response. Calls `ready(null)` if the
 * connection closes first. Exactly one call either way.
 *
 * Writing an empty chunk with a callback does both: Node queues a pipelined
 * response's output until the earlier response finishes, and calls write
 * callbacks in order, after the bytes were handed to the kernel.
 */
export function whenBodyMayStart(req: IncomingMessage, res: ServerResponse, ready: (socket: Socket | null) => void): void {
  let settled = false;
  const settle = (socket: Socket | null): void => {
    if (settled) return;
    settled = true;
    req.off('close', onClose);
    res.off('close', onClose);
    ready(socket);
  };
  const onClose = (): void => {
    if (connectionGone(req, res)) settle(null);
  };
  req.on('close', onClose);
  res.on('close', onClose);
  res.write('', (err?: Error | null) => {
    const socket = res.socket;
    if (err || !socket || socket.destroyed) {
      settle(null);
      return;
    }
    settle(socket);
  });
}

/**
 * Whether the response can no longer reach the client: its connection (or,
 * for HTTP/2, its stream) was destroyed.
 */
export function connectionGone(req: IncomingMessage, res: ServerResponse): boolean {
  const stream = (res as unknown as { stream?: { destroyed?: boolean } }).stream;
  if (stream) return stream.destroyed === true;
  const socket = res.socket ?? req.socket;
  return !socket || socket.destroyed;
}

/**
 * Most responses one connection may have waiting for their turn before Node
 * stops reading it (nginx reads the next request only after answering the
 * last). Node parses whatever one read brought in, so a client can get a
 * read's worth of requests past this, never more.
 */
export const MAX_QUEUED_RESPONSES = 16;

interface QueuedInternals {
  /** Node's account of the bytes queued responses hold; over the socket's high-water mark it stops reading. */
  _onPendingData?: (delta: number) => void;
}

/**
 * Whether `res` is a pipelined response still queued behind an earlier one
 * on its connection: it has no socket yet and gets it with a 'socket' event.
 */
export function isQueued(res: ServerResponse): boolean {
  return res.socket === null && !res.writableEnded;
}

/**
 * Calls `turn()` once the queued response `res` owns its socket, on a later
 * tick (never inside Node's hand-over), or never if the connection closes
 * first. Meanwhile `res` counts as 1/MAX_QUEUED_RESPONSES of the socket's
 * high-water mark in Node's account of queued bytes, so Node's own
 * back-pressure stops reading the connection while too many wait.
 */
export function whenTurn(req: IncomingMessage, res: ServerResponse, turn: () => void): void {
  const pending = (res as unknown as QueuedInternals)._onPendingData;
  const weight = Math.ceil((req.socket?.writableHighWaterMark || 16 * 1024) / MAX_QUEUED_RESPONSES);
  const account = (delta: number): void => {
    if (typeof pending === 'function') pending.call(res, delta);
  };
  let settled = false;
  const settle = (owned: boolean): void => {
    if (settled) return;
    settled = true;
    res.off('socket', onSocket);
    req.off('close', onClose);
    res.off('close', onClose);
    account(-weight);
    if (owned) process.nextTick(turn);
  };
  const onSocket = (): void => settle(true);
  const onClose = (): void => {
    if (connectionGone(req, res)) settle(false);
  };
  res.on('socket', onSocket);
  req.on('close', onClose);
  res.on('close', onClose);
  account(weight);
}

/**
 * The response that owns `socket` now (Node writes pipelined responses one
 * at a time, and hands the socket to the next one as each finishes), or null.
 */
export function responseInFlight(socket: Socket): ServerResponse | null {
  const owner = (socket as unknown as { _httpMessage?: ServerResponse | null })._httpMessage;
  return owner ?? null;
}

interface OutgoingInternals {
  _header?: string | null;
  _headerSent?: boolean;
  outputData?: unknown[];
  _implicitHeader?: () => void;
}

/** How often takeHead() took a head (for tests and stats). */
export const handoffStats = { headsTaken: 0 };

/**
 * Takes the response head away from Node so the addon can send it in one
 * segment train with the body (head with MSG_MORE, then the file), saving
 * Node's head write and a turn of the event loop. Only when this response
 * owns an idle socket: nothing queued in Node, nothing pending before it.
 * Node is left believing it sent the head itself, so res.end() finishes the
 * response (and keep-alive and pipelining go on) without writing anything.
 * Returns null, changing nothing, whenever that is not certain.
 */
export function takeHead(res: ServerResponse): Buffer | null {
  const socket = res.socket;
  const out = res as unknown as OutgoingInternals;
  if (!socket || socket.destroyed || socket.writableLength !== 0 || socket.writableCorked) return null;
  if ((socket as unknown as { _httpMessage?: unknown })._httpMessage !== res) return null;
  if (out._headerSent !== false || (out.outputData?.length ?? 1) !== 0 || typeof out._implicitHeader !== 'function') return null;
  if (!out._header) out._implicitHeader();
  const head = out._header;
  if (typeof head !== 'string' || head.length === 0) return null;
  out._headerSent = true;
  handoffStats.headsTaken++;
  return Buffer.from(head, 'latin1');
}

/**
 * Undoes takeHead() when none of the head was sent after all: Node then
 * sends it itself, with the response's next write.
 */
export function giveHeadBack(res: ServerResponse): void {
  (res as unknown as OutgoingInternals)._headerSent = false;
}

/** Bytes Node still holds for this socket (must be 0 before native sends). */
export function pendingBytes(socket: Socket): number {
  return socket.writableLength;
}

/** Calls `onClose` when the connection closes; returns the remover. */
export function onSocketClose(socket: Socket, onClose: () => void): () => void {
  socket.once('close', onClose);
  return () => socket.off('close', onClose);
}

/** A connection Node's server accepted and has not wrapped in a Socket yet (its TCP handle). */
export interface AcceptedHandle {
  readonly fd: number;
  close(): void;
  getpeername?(out: Record<string, unknown>): number;
  getsockname?(out: Record<string, unknown>): number;
}

/** Where a connection came from and arrived, as a net.Socket reports it. */
export interface Endpoints {
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: string;
  localAddress?: string;
  localPort?: number;
}

type OnConnection = (this: unknown, err: number | null, handle: AcceptedHandle | undefined) => void;

interface ListenInternals {
  _handle?: { fd?: number; onconnection?: OnConnection } | null;
  _connections: number;
  _emitCloseIfDrained?(): void;
}

/**
 * Lets `take` have each connection the TCP server accepts before Node wraps
 * it in a Socket: the front door answers on its fd. Returns the way to give
 * a taken connection to Node as if it had just been accepted (the server's
 * 'connection' event, its connection count, maxConnections), or null where
 * the server is no TCP listener of its own (a Unix socket, a cluster
 * worker's shared handle, not yet listening).
 */
export function interceptAccepts(server: NetServer, take: (handle: AcceptedHandle) => boolean): ((handle: AcceptedHandle) => void) | null {
  const listen = (server as unknown as ListenInternals)._handle;
  const address = server.address();
  if (!listen || typeof listen.onconnection !== 'function' || typeof address !== 'object' || address === null) return null;
  if (typeof listen.fd !== 'number' || listen.fd < 0) return null;
  const original = listen.onconnection;
  const internals = server as unknown as ListenInternals;
  listen.onconnection = function (err, handle) {
    const full = server.maxConnections !== undefined && server.maxConnections > 0 && internals._connections >= server.maxConnections;
    if (err || handle === undefined || full || !take(handle)) original.call(this, err, handle);
  };
  return (handle) => original.call(listen, null, handle);
}

/** Counts a connection that the front door holds in the server's own count (getConnections, close's wait). */
export function countConnection(server: NetServer, delta: 1 | -1): void {
  const internals = server as unknown as ListenInternals;
  internals._connections += delta;
  if (delta < 0) internals._emitCloseIfDrained?.();
}

/** The server's open connections (those the front door holds included). */
export function connectionCount(server: NetServer): number {
  return (server as unknown as ListenInternals)._connections;
}

/** The addresses of an accepted handle, as its Socket would report them. */
export function endpointsOf(handle: AcceptedHandle): Endpoints {
  const peer: Record<string, unknown> = {};
  const local: Record<string, unknown> = {};
  handle.getpeername?.(peer);
  handle.getsockname?.(local);
  return {
    remoteAddress: peer.address as string | undefined,
    remotePort: peer.port as number | undefined,
    remoteFamily: peer.family as string | undefined,
    localAddress: local.address as string | undefined,
    localPort: local.port as number | undefined,
  };
}
