// Hostile input on every engine: a traversal and encoding corpus, and a
// bounded, seeded fuzz of request targets and Range / conditional headers.
// Nothing outside the root is ever served, no request earns a 5xx, and every
// response's length agrees with its headers.
import { strict as assert } from 'node:assert';
import type * as net from 'node:net';
import { fixtures } from '../helpers/fixtures';
import { connect, readResponses, requestText, type RawResponse } from '../helpers/raw-http';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';
import { prng } from '../helpers/prng';

const SECRET = 'outside the root';

const CORPUS = [
  '/../outside.txt',
  '/..%2Foutside.txt',
  '/%2e%2e%2foutside.txt',
  '/%252e%252e%252foutside.txt',
  '/..%255coutside.txt',
  '/..%c0%afoutside.txt',
  '/%c0%ae%c0%ae/outside.txt',
  '/%e0%80%ae%e0%80%ae/outside.txt',
  '/.%00./outside.txt',
  '/%2e%2e\\outside.txt',
  '/dir/..%5c..%5coutside.txt',
  '/./.././outside.txt',
  '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/....//outside.txt',
  '/..;/outside.txt',
  '/../public-other/secret.txt',
  '/..%2fpublic-other%2fsecret.txt',
  'http://127.0.0.1/../outside.txt',
  'http://evil.example/%2e%2e/outside.txt',
  '//evil.example/../outside.txt',
  '/\\..\\outside.txt',
  `/${'a/'.repeat(3000)}x`,
  `/${'%2e%2e/'.repeat(500)}outside.txt`,
  '/%',
  '/%zz',
  '/%u002e%u002e/outside.txt',
  '/hello.txt%00',
  '/hello.txt\x00',
];

const TARGET_PIECES = [
  '/',
  'hello.txt',
  'dir',
  'sub',
  'page.txt',
  '..',
  '.',
  '%2e',
  '%2f',
  '%5c',
  '%00',
  '%',
  '%c0%ae',
  '//',
  '\\',
  'size-65537.bin',
  'index.html',
  '.secret',
  '?',
  '#',
  '%20',
  'é',
  '%ff',
  ';',
  '~',
];
const RANGE_PIECES = ['bytes=', 'BYTES=', 'items=', '0', '1', '-', ',', ' ', '65536', '65537', '99999999999999999999', '-0', '5-3', '=', 'x'];
const DATES = ['Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', 'garbage', '', 'Sun, 06 Nov 1994 08:49:37 GMT'];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)] as T;
}

/** Header values must be visible ASCII here, or Node rejects the request before sluice sees it. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '');
}

function fuzzRequest(rand: () => number): { target: string; headers: Record<string, string>; head: boolean } {
  let target = '/';
  const parts = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < parts; i++) target += pick(rand, TARGET_PIECES);
  target = target.replace(/[\s]/g, '%20').replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
  const headers: Record<string, string> = {};
  if (rand() < 0.6) {
    let range = '';
    const n = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < n; i++) range += pick(rand, RANGE_PIECES);
    headers.range = printable(range);
  }
  if (rand() < 0.2) headers['if-range'] = pick(rand, ['W/"x"', '"x"', ...DATES]);
  if (rand() < 0.2) headers['if-none-match'] = pick(rand, ['*', 'W/"x"', '"a", "b"', '', ',,,']);
  if (rand() < 0.2) headers['if-modified-since'] = pick(rand, DATES);
  if (rand() < 0.1) headers['if-match'] = pick(rand, ['*', '"x"', 'W/"x"']);
  if (rand() < 0.1) headers['if-unmodified-since'] = pick(rand, DATES);
  return { target, headers, head: rand() < 0.15 };
}

/** Checks a response against its own headers; returns a reason or null. */
function inconsistency(res: RawResponse, head: boolean): string | null {
  if (res.status >= 500) return `status ${res.status}`;
  const length = res.headers['content-length'];
  // Node's own parser answers what it cannot parse with a bare
  // "400 Bad Request" and closes: no body, so no length needed.
  const nodeParserReject = res.status === 400 && res.headers.connection === 'close' && res.body.length === 0;
  if (!head && res.status !== 304 && length === undefined && !nodeParserReject) return 'no Content-Length';
  if (!head && length !== undefined && Number(length) !== res.body.length) return `Content-Length ${length} but ${res.body.length} bytes`;
  if (res.status === 206 && !res.headers['content-range'] && !/multipart\/byteranges/.test(res.headers['content-type'] ?? ''))
    return '206 without Content-Range';
  if (res.body.includes(SECRET)) return 'served a file outside the root';
  return null;
}

forEachEngine('hostile input', (engine) => {
  const fx = fixtures();
  let server: TestServer;
  before(async () => {
    server = await startServer(fx.root, { engine });
  });
  after(() => server.close());

  /** One request on its own connection, the target sent byte for byte. */
  const raw = async (target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> => {
    const socket = await connect(server.port);
    try {
      socket.write(requestText(method, target, headers));
      const [res] = await readResponses(socket, 1, [method === 'HEAD'], 10_000);
      assert.ok(res);
      return res;
    } finally {
      socket.destroy();
    }
  };

  describe('with a traversal and encoding corpus', () => {
    for (const target of CORPUS) {
      it(`should refuse ${JSON.stringify(target.length > 60 ? `${target.slice(0, 60)}…` : target)} without leaving the root`, async () => {
        let res: RawResponse;
        try {
          res = await raw(target);
        } catch {
          return; // Node's parser refused it and closed the connection: nothing served.
        }
        assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
        assert.equal(inconsistency(res, false), null);
      });
    }

    it('should answer an over-long header with 431 and keep serving', async () => {
      const res = await raw('/hello.txt', { 'x-long': 'a'.repeat(20_000) }).catch(() => null);
      if (res) assert.equal(res.status, 431);
      assert.equal((await raw('/hello.txt')).status, 200);
    });
  });

  describe('when fuzzed', () => {
    it('should answer 600 random requests consistently, never 5xx', async () => {
      const rand = prng(0x51c3 + engine.length);
      let socket: net.Socket | null = null;
      try {
        for (let i = 0; i < 600; i++) {
          const r = fuzzRequest(rand);
          socket ??= await connect(server.port);
          socket.write(requestText(r.head ? 'HEAD' : 'GET', r.target, r.headers));
          let res: RawResponse | undefined;
          try {
            [res] = await readResponses(socket, 1, [r.head], 10_000);
          } catch (err) {
            // A request Node's parser refuses ends its connection; that is
            // allowed, a hang is not (readResponses times out).
            assert.doesNotMatch(String(err), /timed out/, `request ${i}: ${JSON.stringify(r)}`);
            socket.destroy();
            socket = null;
            continue;
          }
          assert.ok(res);
          const why = inconsistency(res, r.head);
          assert.equal(why, null, `request ${i}: ${JSON.stringify(r)} → ${why}`);
          if (res.headers.connection === 'close') {
            socket.destroy();
            socket = null;
          }
        }
      } finally {
        socket?.destroy();
      }
      const after = await raw('/size-65537.bin');
      assert.equal(after.body.length, 65537);
    });
  });
});
