// What createServer asks of Node's HTTP/1 connection handling beyond its
// defaults, so that no valid request goes unanswered because of what the
// client did next:
// - a half-close (shutdown(SHUT_WR) after the requests) ends the connection
//   only once every request received before it has been answered;
// - a malformed request after valid ones on the same connection (or bytes
//   after a `Connection: close` / HTTP/1.0 request) waits for those answers:
//   they go out in full and in order, then the error status (none after a
//   response that already closes the connection), then the close. Node's
//   default writes the 400 and destroys the socket at once, under responses
//   still in flight.
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { connectionOpened } from './descriptors';
import { responseInFlight } from './engines';

/** Status for a parse error, as Node's own clientError default picks it. */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** Bytes after a request that closes the connection: nothing more will be read, nothing to answer. */
const AFTER_CLOSE = 'HPE_CLOSED_CONNECTION';

/** How long a connection may take to flush its error response before it is destroyed (ms). */
const LINGER_MS = 5000;

/** Connections already closing after their answers (a broken parser reports every later chunk again). */
const closing = new WeakSet<Socket>();

function errorResponse(code: string | undefined): string {
  const status = (code !== undefined && STATUS_OF_CODE[code]) || 400;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n\r\n`;
}

/** Writes the error response (if any, and if the connection still takes bytes), then closes. */
function closeWith(socket: Socket, response: string | null): void {
  if (socket.destroyed) return;
  if (socket.writable && response !== null) socket.write(response);
  socket.destroySoon();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Calls `cb` once no response owns `socket` any more (after the last queued one finished). */
function afterAnswers(socket: Socket, cb: () => void): void {
  const owner = responseInFlight(socket);
  if (owner === null) return cb();
  // Node's own 'finish' listener ran first and handed the socket to the next response.
  owner.once('finish', () => afterAnswers(socket, cb));
}

function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (closing.has(socket)) return;
  // The client has gone (or the connection cannot take bytes): nothing to answer.
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  closing.add(socket);
  const response = err.code === AFTER_CLOSE ? null : errorResponse(err.code);
  socket.pause();
  afterAnswers(socket, () => closeWith(socket, response));
}

/**
 * Applies both rules to `server`, and counts its connections against the
 * descriptor budget (descriptors.ts), so that cached files give way to them.
 */
export function answerBeforeClosing(server: Server): void {
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', onClientError);
  server.on('connection', (socket: Socket) => socket.once('close', connectionOpened()));
}
