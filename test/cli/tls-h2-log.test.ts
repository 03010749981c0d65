// `sluice --ssl-cert --ssl-key --http2 --log`: HTTP/2 streams answered on
// Node's core API never reach a 'request' listener, so the log hears of them
// as 'frontDoorResponse'; every response is logged once, whichever path
// answered it, with the fields an HTTP/1.1 line has.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { startCli, type StartedCli } from '../helpers/cli';
import { fixtures, scratchDir } from '../helpers/fixtures';
import { testCert } from '../helpers/tls';

function h2(session: http2.ClientHttp2Session, p: string, method = 'GET', headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': p, ':method': method, ...headers });
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', () => {});
    stream.on('end', () => resolve(status));
    stream.on('error', reject);
    stream.end();
  });
}

describe('cli: --http2 --log over TLS', function () {
  this.timeout(30_000);
  const { cert, reason } = testCert();
  if (!cert) {
    it.skip(`skipped: no certificate (${reason})`, () => {});
    return;
  }
  let server: StartedCli;
  let out = '';
  before(async () => {
    const dir = scratchDir();
    fs.writeFileSync(path.join(dir, 'cert.pem'), cert.cert);
    fs.writeFileSync(path.join(dir, 'key.pem'), cert.key);
    const tls = ['--ssl-cert', path.join(dir, 'cert.pem'), '--ssl-key', path.join(dir, 'key.pem')];
    server = await startCli([fixtures().root, '--port', '0', '--no-compress', ...tls, '--http2', '--log', '--log-format', 'json', '--trust-proxy', 'loopback']);
    server.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  });
  after(() => {
    server.child.kill('SIGKILL');
  });

  it('should log each HTTP/2 response once: core-API answers, handed-over ones and other methods alike', async () => {
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: cert.cert });
    try {
      assert.equal(await h2(session, '/hello.txt', 'GET', { 'user-agent': 'probe/2', 'x-forwarded-for': '203.0.113.9' }), 200);
      assert.equal(await h2(session, '/hello.txt', 'HEAD'), 200);
      assert.equal(await h2(session, '/missing.txt'), 404);
      assert.equal(await h2(session, '/hello.txt', 'POST'), 405);
    } finally {
      session.close();
    }
    const until = Date.now() + 5000;
    const lines = (): Record<string, unknown>[] =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    while (lines().length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const got = lines().map((e) => [e.method, e.url, e.protocol, e.status, e.bytes]);
    assert.deepEqual(
      got.sort((a, b) => String(a).localeCompare(String(b))),
      [
        ['GET', '/hello.txt', 'HTTP/2.0', 200, 13],
        ['GET', '/missing.txt', 'HTTP/2.0', 404, (got.find((g) => g[1] === '/missing.txt') ?? [])[4]],
        ['HEAD', '/hello.txt', 'HTTP/2.0', 200, 0],
        ['POST', '/hello.txt', 'HTTP/2.0', 405, 0],
      ].sort((a, b) => String(a).localeCompare(String(b))),
    );
    const first = lines().find((e) => e.method === 'GET' && e.url === '/hello.txt');
    assert.equal(first?.agent, 'probe/2');
    assert.equal(first?.remote, '203.0.113.9');
    assert.equal(first?.peer, '127.0.0.1');
    assert.equal(typeof first?.ms, 'number');
    const missing = lines().find((e) => e.url === '/missing.txt');
    assert.ok(Number(missing?.bytes) > 0);
  });
});
