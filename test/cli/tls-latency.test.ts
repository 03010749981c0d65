// HTTPS latency under concurrency: many kept-alive HTTP/1.1 connections
// asking for small files at once must each get an answer in a few ms (the
// server runs as `sluice --ssl-cert --ssl-key [--http2]`, in its own
// process, so the client's work does not queue in front of it). A
// response whose head and body leave as two TLS records on a socket with
// Nagle's algorithm on waits for the client's delayed ACK (40 ms on Linux)
// before its second record goes: every request then takes 40 ms.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startCli, stopCli, type StartedCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { testCert } from '../helpers/tls';

const CONNECTIONS = 20;
const REQUESTS = 50;
/** The delayed-ACK stall adds 40 ms to a reply: past this, a reply waited for it. */
const STALL_MS = 35;
/**
 * A stalled server has nearly every reply past STALL_MS; a loaded 2-core
 * machine (other processes, the client's own work) pushes a few percent
 * there at most.
 */
const MAX_STALLED = 0.1;

/**
 * A kept-alive HTTP/1.1 connection over TLS that costs its client little
 * (no agent, no parser: the head's end and Content-Length frame each reply),
 * so the client's own work barely adds to what is measured.
 */
class LeanConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: ((length: number) => void) | null = null;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (c: Buffer) => {
      this.buffered = this.buffered.length === 0 ? c : Buffer.concat([this.buffered, c]);
      this.takeReply();
    });
  }

  static open(port: number, ca: Buffer): Promise<LeanConnection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () =>
        resolve(new LeanConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** One GET: its body's length and how long it took (ms). */
  get(file: string, fields = ''): Promise<{ ms: number; length: number }> {
    const start = process.hrtime.bigint();
    return new Promise((resolve) => {
      this.waiting = (length) => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, length });
      this.socket.write(`GET ${file} HTTP/1.1\r\nHost: localhost\r\n${fields}\r\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private takeReply(): void {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === null) return;
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(this.buffered.subarray(0, end).toString('latin1'))?.[1] ?? NaN);
    if (this.buffered.length < end + 4 + length) return;
    this.buffered = this.buffered.subarray(end + 4 + length);
    const done = this.waiting;
    this.waiting = null;
    done(length);
  }
}

/** `lanes` concurrent loops of `each` requests, timed once every lane has answered one; `size`: each body's length (null: a multipart body, whose boundary varies). */
async function latencies(lanes: number, each: number, one: (lane: number) => Promise<{ ms: number; length: number }>, size: number | null): Promise<number[]> {
  const times: number[] = [];
  // Every lane warm first: a handshake costs a few ms of the shared CPU.
  await Promise.all(Array.from({ length: lanes }, (_, lane) => one(lane)));
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = 0; i < each; i++) {
        const r = await one(lane);
        if (size !== null) assert.equal(r.length, size);
        else assert.ok(r.length > 2, 'a multipart/byteranges body');
        times.push(r.ms);
      }
    }),
  );
  return times.sort((a, b) => a - b);
}

function summary(times: number[]): string {
  const at = (q: number): string => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${times[times.length - 1].toFixed(1)} ms over ${times.length} requests`;
}

function assertNoStall(times: number[]): void {
  const stalled = times.filter((ms) => ms > STALL_MS).length;
  assert.ok(stalled <= MAX_STALLED * times.length, `${stalled} replies took over ${STALL_MS} ms: ${summary(times)}`);
}

const { cert, reason } = testCert();

for (const h2 of [false, true]) {
  describe(`HTTPS latency: ${CONNECTIONS} kept-alive connections × ${REQUESTS} requests (sluice --ssl-cert${h2 ? ' --http2' : ''})`, function () {
    if (!cert) {
      it.skip(`skipped: no certificate (${reason})`, () => {});
      return;
    }
    this.timeout(60_000);
    let server: StartedCli;
    let port: number;
    const root = scratchDir();
    before(async () => {
      fs.writeFileSync(path.join(root, '1k.bin'), Buffer.alloc(1024, 'a'));
      fs.writeFileSync(path.join(root, '100k.bin'), Buffer.alloc(100 * 1024, 'b'));
      const certDir = scratchDir();
      fs.writeFileSync(path.join(certDir, 'cert.pem'), cert.cert);
      fs.writeFileSync(path.join(certDir, 'key.pem'), cert.key);
      const tls = ['--ssl-cert', path.join(certDir, 'cert.pem'), '--ssl-key', path.join(certDir, 'key.pem')];
      server = await startCli([root, '--port', '0', '--no-compress', ...tls, ...(h2 ? ['--http2'] : [])]);
      port = server.port;
    });
    after(() => stopCli(server.child, 'SIGKILL'));

    // 1 KiB goes from memory with its head, in one write.
    it('should answer HTTP/1.1 GET /1k.bin without a delayed-ACK stall', async () => {
      const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => LeanConnection.open(port, cert.cert)));
      try {
        assertNoStall(await latencies(CONNECTIONS, REQUESTS, (lane) => conns[lane].get('/1k.bin'), 1024));
      } finally {
        for (const c of conns) c.close();
      }
    });

    // Two ranges of a copied file (100 KiB, over --small-file-max's default
    // over TLS): each part is read and written on its own turn, small writes
    // that Nagle's algorithm would hold for an ACK.
    it('should answer a two-range GET of a copied file without a delayed-ACK stall', async () => {
      const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => LeanConnection.open(port, cert.cert)));
      try {
        assertNoStall(await latencies(CONNECTIONS, REQUESTS, (lane) => conns[lane].get('/100k.bin', 'Range: bytes=0-0,2-2\r\n'), null));
      } finally {
        for (const c of conns) c.close();
      }
    });
  });
}
