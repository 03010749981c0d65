// `--workers N` over HTTPS: every worker decrypts every other worker's
// session tickets, so a client resumes its TLS session (no full handshake)
// on whichever worker its next connection reaches. Before Node 22.12,
// node:cluster's primary hands the first worker's ticket keys to the others
// itself; from 22.12 each worker listens on a SO_REUSEPORT socket of its own
// and only the keys the CLI's primary gives them are shared.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startCli, stopCli, type StartedCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { testCert } from '../helpers/tls';

/** Connections after the first: with two workers, each reaches either one, so unshared keys fail to resume about half. */
const RECONNECTS = 12;

/** One TLS connection that asks for a page (so the session tickets arrive): whether it resumed, and the session to resume next. */
function connect(port: number, ca: Buffer, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', session });
    socket.on('session', (s: Buffer) => (ticket ??= s));
    socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    socket.on('data', () => {});
    socket.once('end', () => resolve({ reused: socket.isSessionReused(), session: ticket }));
    socket.once('error', reject);
  });
}

describe('--workers 2 with --ssl-cert', function () {
  const { cert, reason } = testCert();
  if (!cert) {
    it.skip(`skipped: no certificate (${reason})`, () => {});
    return;
  }
  this.timeout(60_000);
  let server: StartedCli;
  before(async () => {
    const root = scratchDir();
    fs.writeFileSync(path.join(root, 'index.html'), 'hello\n');
    const dir = scratchDir();
    fs.writeFileSync(path.join(dir, 'cert.pem'), cert.cert);
    fs.writeFileSync(path.join(dir, 'key.pem'), cert.key);
    server = await startCli([root, '--port', '0', '--workers', '2', '--ssl-cert', path.join(dir, 'cert.pem'), '--ssl-key', path.join(dir, 'key.pem')]);
  });
  after(() => stopCli(server.child));

  it(`should resume one session on every one of ${RECONNECTS} later connections, whichever worker takes each`, async () => {
    const first = await connect(server.port, cert.cert);
    assert.ok(first.session, 'the server sent a session ticket');
    const reused: boolean[] = [];
    for (let i = 0; i < RECONNECTS; i++) reused.push((await connect(server.port, cert.cert, first.session)).reused);
    assert.deepEqual(reused, Array(RECONNECTS).fill(true));
  });
});
