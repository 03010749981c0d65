// The fetch-style API: file(request, path, options) answered under three
// hosts (sluice's own createServer(root, { fetch }) on every engine,
// @hono/node-server's serve, and a plain http server writing the Response
// through Readable.fromWeb), each case compared with what sendFile
// answers on Node's request and response for the same request: status,
// the representation's fields, and the body's hash. Then what only the
// fetch server does: file() bodies sent without reading their stream,
// other Responses streamed with back-pressure and every Set-Cookie,
// request bodies streamed in, handler failures as 500s, client aborts.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { serve } from '@hono/node-server';
import { Agent, request as undiciRequest } from 'undici';
import { createServer, file, sendFile, type FetchHandler, type SluiceServer } from '../../server/src/index';
import { fileTable } from '../../server/src/file-table';
import { eventually } from '../helpers/eventually';
import { fdsUnder, scratchDir, sha256 } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { forEachEngine } from '../helpers/server';

const BIG = 32 * 1024 * 1024;

interface Site {
  root: string;
  bytes: (name: string) => Buffer;
}

let site: Site | null = null;

/** The served files, made once: sizes across the small-file bound, a precompressed script, a big file. */
function makeSite(): Site {
  if (site !== null) return site;
  const root = scratchDir();
  const script = Buffer.from(Array.from({ length: 4000 }, (_v, i) => `console.log(${i}, "${randomBytes(6).toString('hex')}");\n`).join(''));
  fs.writeFileSync(path.join(root, 'app.js'), script);
  fs.writeFileSync(path.join(root, 'app.js.br'), zlib.brotliCompressSync(script));
  fs.writeFileSync(path.join(root, 'app.js.gz'), zlib.gzipSync(script));
  for (const size of [0, 1000, 65536, 1024 * 1024 + 3]) fs.writeFileSync(path.join(root, `size-${size}.bin`), randomBytes(size));
  fs.writeFileSync(path.join(root, 'big.bin'), randomBytes(BIG));
  fs.writeFileSync(path.join(root, '.hidden'), 'dotfile\n');
  site = { root, bytes: (name) => fs.readFileSync(path.join(root, name)) };
  return site;
}

/** The streamed, non-file answer: 1 MiB in 16 KiB chunks, with two cookies. */
const STREAMED = randomBytes(1024 * 1024);

function streamedResponse(): Response {
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= STREAMED.length) return controller.close();
      controller.enqueue(new Uint8Array(STREAMED.subarray(at, at + 16384)));
      at += 16384;
    },
  });
  const headers = new Headers({ 'content-type': 'application/octet-stream' });
  headers.append('set-cookie', 'a=1; Path=/');
  headers.append('set-cookie', 'b=2; Path=/; HttpOnly');
  return new Response(body, { status: 201, headers });
}

/** The app every host runs: /f/NAME is file(), the rest are ordinary fetch answers. */
function app(root: string): FetchHandler {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith('/f/')) return file(request, decodeURIComponent(pathname.slice(3)), { root, precompressed: true });
    if (pathname === '/streamed') return streamedResponse();
    if (pathname === '/echo') return new Response(request.body, { headers: { 'content-type': 'application/octet-stream' } });
    if (pathname === '/throw') throw new Error('the route failed');
    return new Response('not here', { status: 404 });
  };
}

interface Host {
  base: string;
  close(): Promise<void>;
}

async function listening(server: http.Server): Promise<string> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closing(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Node's request → Web Request, and the Response written through Readable.fromWeb: the plainest fetch host. */
function fromWebHost(handler: FetchHandler): http.Server {
  return http.createServer((req, res) => {
    void (async () => {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
      const response = await handler(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers }), undefined as never);
      res.writeHead(response.status, [...response.headers].flat());
      if (response.body === null || req.method === 'HEAD') return void res.end();
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res).catch(() => {});
    })();
  });
}

/** sendFile on Node's request and response: what file() must agree with. */
function nodePath(root: string): http.Server {
  return http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(3));
    sendFile(req, res, name, { root, precompressed: true }).catch((err: { status?: number; headers?: Record<string, string> }) => {
      res.writeHead(err.status ?? 500, err.headers ?? {});
      res.end();
    });
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function get(base: string, agent: Agent, target: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Reply> {
  const res = await undiciRequest(base + target, { dispatcher: agent, method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

/** The fields file() and sendFile must agree on. */
const COMPARED = ['content-type', 'content-length', 'content-range', 'content-encoding', 'etag', 'last-modified', 'cache-control', 'accept-ranges', 'vary'];

function fieldsOf(reply: Reply): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of COMPARED) {
    const value = reply.headers[name];
    // A multipart boundary is random per process: compare its form only.
    out[name] = name === 'content-type' && typeof value === 'string' ? value.replace(/boundary=\S+/, 'boundary=B') : value;
  }
  return out;
}

/** The cases every host answers as the Node path does. */
function cases(): [string, string, Record<string, string>, ('GET' | 'HEAD')?][] {
  return [
    ['a whole file', '/f/size-1048579.bin', {}],
    ['a small file', '/f/size-1000.bin', {}],
    ['an empty file', '/f/size-0.bin', {}],
    ['HEAD', '/f/size-65536.bin', {}, 'HEAD'],
    ['one range', '/f/size-1048579.bin', { range: 'bytes=100-70000' }],
    ['a suffix range', '/f/size-65536.bin', { range: 'bytes=-500' }],
    ['several ranges (multipart/byteranges)', '/f/size-1048579.bin', { range: 'bytes=0-9,1000-1999,-10' }],
    ['an unsatisfiable range (416)', '/f/size-1000.bin', { range: 'bytes=5000-' }],
    ['a failed If-Match (412)', '/f/size-1000.bin', { 'if-match': '"other"' }],
    ['If-Modified-Since in the future (304)', '/f/size-1000.bin', { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() }],
    ['the brotli sibling', '/f/app.js', { 'accept-encoding': 'gzip, br' }],
    ['the gzip sibling', '/f/app.js', { 'accept-encoding': 'gzip' }],
    ['identity where siblings exist', '/f/app.js', { 'accept-encoding': 'identity' }],
    ['a missing file', '/f/nope.txt', {}],
    ['a dotfile', '/f/.hidden', {}],
    ['a path that leaves root', '/f/..%2Foutside.txt', {}],
  ];
}

/** The file() cases under one host. */
function fileCases(start: (root: string) => Promise<Host>): void {
  const { root, bytes } = makeSite();
  let host: Host;
  let node: http.Server;
  let nodeBase: string;
  let agent: Agent;
  before(async () => {
    host = await start(root);
    node = nodePath(root);
    nodeBase = await listening(node);
    agent = new Agent({ connections: 4 });
  });
  after(async () => {
    await agent.close();
    await host.close();
    await closing(node);
  });

  for (const [title, target, headers, method] of cases()) {
    it(`should answer ${title} with sendFile's status, fields and body`, async () => {
      const [ours, theirs] = await Promise.all([get(host.base, agent, target, headers, method), get(nodeBase, agent, target, headers, method)]);
      assert.equal(ours.status, theirs.status);
      if (ours.status >= 400) return;
      const mine = fieldsOf(ours);
      // @hono/node-server names a default type on a 304 whose Response has none.
      if (ours.status === 304 && theirs.headers['content-type'] === undefined) delete mine['content-type'];
      const expected = fieldsOf(theirs);
      if (ours.status === 304) delete expected['content-type'];
      assert.deepEqual(mine, expected);
      if (!String(ours.headers['content-type']).startsWith('multipart/')) assert.equal(sha256(ours.body), sha256(theirs.body));
      else assert.equal(ours.body.length, theirs.body.length);
    });
  }

  it('should send every byte of a precompressed sibling, with Vary: Accept-Encoding', async () => {
    const br = await get(host.base, agent, '/f/app.js', { 'accept-encoding': 'br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers.vary, 'Accept-Encoding');
    assert.equal(sha256(br.body), sha256(bytes('app.js.br')));
    assert.equal(sha256(zlib.brotliDecompressSync(br.body)), sha256(bytes('app.js')));
  });

  it('should answer If-None-Match with the ETag it sent by 304, without a body', async () => {
    const first = await get(host.base, agent, '/f/size-65536.bin');
    const again = await get(host.base, agent, '/f/size-65536.bin', { 'if-none-match': String(first.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, first.headers.etag);
    assert.equal(again.body.length, 0);
  });

  it('should send both parts of a multipart range byte-exact', async () => {
    const reply = await get(host.base, agent, '/f/size-1048579.bin', { range: 'bytes=0-9,500000-500999' });
    assert.equal(reply.status, 206);
    const boundary = /boundary=(\S+)/.exec(String(reply.headers['content-type']))?.[1] ?? '';
    const text = reply.body.toString('latin1');
    const parts = text.split(`--${boundary}`).filter((p) => p.includes('Content-Range'));
    assert.equal(parts.length, 2);
    const whole = bytes('size-1048579.bin');
    assert.ok(parts[0].includes(whole.subarray(0, 10).toString('latin1')));
    assert.ok(parts[1].includes(whole.subarray(500000, 501000).toString('latin1')));
  });

  it('should let the file go when the client aborts mid-body', async () => {
    await abortMidBody(host.base, '/f/big.bin');
    await eventually(
      () => {
        fileTable.clear();
        return fdsUnder(root).length === 0;
      },
      3000,
      () => `still open: ${fdsUnder(root).join(', ')}`,
    );
  });
}

/** Reads the head and a little of the body of a big file, then resets the connection. */
async function abortMidBody(base: string, target: string): Promise<void> {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  let seen = 0;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > 256 * 1024) {
        socket.resetAndDestroy();
        resolve();
      }
    });
  });
}

describe('file() under @hono/node-server', () => {
  fileCases(async (root) => {
    const handler = app(root);
    const server = serve({ fetch: (request) => handler(request, undefined as never), port: 0, hostname: '127.0.0.1' }) as http.Server;
    const base = await listening(server);
    return { base, close: () => closing(server) };
  });
});

describe('file() under a Readable.fromWeb writer', () => {
  fileCases(async (root) => {
    const server = fromWebHost(app(root));
    return { base: await listening(server), close: () => closing(server) };
  });

  it('should give a byte stream (a BYOB reader reads it)', async () => {
    const { root, bytes } = makeSite();
    const response = await file(new Request('http://x/'), 'size-65536.bin', { root });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader({ mode: 'byob' });
    const chunks: Buffer[] = [];
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(10000));
      if (done) break;
      chunks.push(Buffer.from(value));
    }
    assert.equal(sha256(Buffer.concat(chunks)), sha256(bytes('size-65536.bin')));
  });
});

describe('file() when the file shrinks after it was opened', () => {
  it('should error the stream rather than end it short, and plan the next answer on the new size', async () => {
    const dir = scratchDir();
    const name = path.join(dir, 'shrinks.bin');
    fs.writeFileSync(name, randomBytes(300_000));
    const response = await file(new Request('http://x/'), name);
    assert.equal(response.headers.get('content-length'), '300000');
    fs.truncateSync(name, 1000);
    await assert.rejects(response.arrayBuffer());
    const again = await file(new Request('http://x/'), name);
    assert.equal(again.headers.get('content-length'), '1000');
    assert.equal((await again.arrayBuffer()).byteLength, 1000);
  });
});

describe("file()'s headers option", () => {
  it("should set its fields over sluice's own, as sendFile does, and still judge conditionals", async () => {
    const { root } = makeSite();
    const headers = { 'X-Extra': 'yes', 'Cache-Control': 'no-store', 'Set-Cookie': ['a=1', 'b=2'] };
    const response = await file(new Request('http://x/'), 'size-1000.bin', { root, headers });
    assert.equal(response.headers.get('x-extra'), 'yes');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
    await response.body?.cancel();
    const etag = String(response.headers.get('etag'));
    const again = await file(new Request('http://x/', { headers: { 'if-none-match': etag } }), 'size-1000.bin', { root, headers });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('x-extra'), 'yes');
  });
});

describe('file() Responses dropped unread', () => {
  it('should let their files go once they are collected', async function () {
    this.timeout(20_000);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const dir = scratchDir();
    const name = path.join(dir, 'dropped.bin');
    fs.writeFileSync(name, randomBytes(200_000));
    for (let i = 0; i < 3; i++) await file(new Request('http://x/'), name);
    assert.equal(fdsUnder(dir).length, 1);
    await eventually(
      () => {
        gc();
        fileTable.clear();
        return fdsUnder(dir).length === 0;
      },
      10_000,
      () => `still open: ${fdsUnder(dir).join(', ')}`,
      100,
    );
  });
});

describe('createServer(root, { fetch }) options', () => {
  it('should refuse a fetch option that is not a function, naming it', () => {
    assert.throws(() => createServer(makeSite().root, { fetch: 'app' as unknown as FetchHandler }), {
      code: 'ERR_INVALID_ARG_TYPE',
      message: /"fetch" option/,
    });
  });

  it('should keep the front door off even when it is asked for', () => {
    const server = createServer(makeSite().root, { frontDoor: true, fetch: () => new Response('x') });
    assert.equal(server.sluice.frontDoor, null);
  });
});

forEachEngine('createServer(root, { fetch })', (engine) => {
  const { root } = makeSite();
  let server: SluiceServer;
  fileCases(async () => {
    server = createServer(root, { engine, fetch: app(root) });
    return { base: await listening(server), close: () => closing(server) };
  });
});

forEachEngine('the fetch server', (engine) => {
  const { root, bytes } = makeSite();
  let server: SluiceServer;
  let base: string;
  let agent: Agent;
  /** Responses file() made, by request path, to look at after they went out. */
  const made = new Map<string, Response>();
  /** Per-test hooks: a route's own handler. */
  const routes = new Map<string, FetchHandler>();
  const logged: string[] = [];
  const consoleError = console.error;

  before(async () => {
    const inner = app(root);
    server = createServer(root, {
      engine,
      maxAge: '1h',
      fetch: async (request, context) => {
        const { pathname } = new URL(request.url);
        const route = routes.get(pathname);
        if (route !== undefined) return route(request, context);
        if (pathname.startsWith('/ctx/')) return context.file(pathname.slice(5));
        const response = await inner(request, context);
        made.set(pathname, response);
        return response;
      },
    });
    base = await listening(server);
    agent = new Agent({ connections: 2 });
    console.error = (...args: unknown[]) => void logged.push(args.join(' '));
  });
  after(async () => {
    console.error = consoleError;
    await agent.close();
    await closing(server);
  });

  it('should say the front door is off: the handler answers every request', () => {
    assert.equal(server.sluice.frontDoor, null);
    assert.equal(server.sluice.frontDoorNote, 'front door off (a fetch handler answers every request)');
  });

  it("should send a file() Response from the file, without reading the Response's stream", async () => {
    const reply = await get(base, agent, '/f/size-1048579.bin');
    assert.equal(sha256(reply.body), sha256(bytes('size-1048579.bin')));
    const response = made.get('/f/size-1048579.bin') as Response;
    assert.equal(response.bodyUsed, false);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await assert.rejects(reader.read(), { code: 'ERR_SLUICE_BODY_TAKEN' });
  });

  it('should stream a file() Response that was cloned, and the clone reads the same bytes', async () => {
    let cloneBytes: Promise<ArrayBuffer> = Promise.resolve(new ArrayBuffer(0));
    routes.set('/cloned', async (request) => {
      const original = await file(request, 'size-1048579.bin', { root });
      cloneBytes = original.clone().arrayBuffer();
      return original;
    });
    const reply = await get(base, agent, '/cloned');
    assert.equal(sha256(reply.body), sha256(bytes('size-1048579.bin')));
    assert.equal(sha256(Buffer.from(await cloneBytes)), sha256(bytes('size-1048579.bin')));
  });

  it("should resolve context.file() against the server's root with the server's options", async () => {
    const reply = await get(base, agent, '/ctx/size-1000.bin');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['cache-control'], 'public, max-age=3600');
    assert.equal(sha256(reply.body), sha256(bytes('size-1000.bin')));
  });

  it('should send pipelined file() Responses in order, each byte-exact', async () => {
    const socket = await connect(Number(new URL(base).port));
    const names = ['size-1048579.bin', 'size-1000.bin', 'size-65536.bin', 'app.js'];
    socket.write(names.map((n) => requestText('GET', `/f/${n}`)).join(''));
    const replies = await readResponses(socket, names.length);
    socket.destroy();
    assert.deepEqual(
      replies.map((r) => sha256(r.body)),
      names.map((n) => sha256(bytes(n))),
    );
  });

  it('should stream another Response with its status, every Set-Cookie and every byte', async () => {
    const reply = await get(base, agent, '/streamed');
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    assert.equal(sha256(reply.body), sha256(STREAMED));
  });

  it('should call the handler before the request body has arrived, and stream it through', async () => {
    let called: () => void = () => {};
    const handlerCalled = new Promise<void>((resolve) => (called = resolve));
    routes.set('/slow-upload', (request) => {
      called();
      // Framed by length: the raw reader reads no chunked bodies.
      return new Response(request.body, { headers: { 'content-length': request.headers.get('content-length') ?? '0' } });
    });
    const payload = randomBytes(300_000);
    const socket = await connect(Number(new URL(base).port));
    socket.write(`POST /slow-upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${payload.length}\r\n\r\n`);
    socket.write(payload.subarray(0, 1000));
    await handlerCalled;
    const replies = readResponses(socket, 1);
    socket.write(payload.subarray(1000));
    const [reply] = await replies;
    socket.destroy();
    assert.equal(sha256(reply.body), sha256(payload));
  });

  it('should answer HEAD with the head of a streamed Response and no body', async () => {
    const reply = await get(base, agent, '/streamed', {}, 'HEAD');
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    assert.equal(reply.body.length, 0);
  });

  it("should abort the Request's signal when the client goes before the answer", async () => {
    let aborted: (reason: unknown) => void = () => {};
    const wasAborted = new Promise<unknown>((resolve) => (aborted = resolve));
    routes.set('/waits', (request) => {
      request.signal.addEventListener('abort', () => aborted(request.signal.reason));
      return new Promise<Response>(() => {});
    });
    const socket = await connect(Number(new URL(base).port));
    socket.write(requestText('GET', '/waits'));
    await new Promise((r) => setTimeout(r, 100));
    // A reset: a half-close would still be answered (the server keeps it for its answer).
    socket.resetAndDestroy();
    const reason = (await wasAborted) as { code?: string };
    assert.equal(reason.code, 'ECONNRESET');
  });

  it('should answer a handler that throws with a 500 and a log line naming the request, and keep serving', async () => {
    logged.length = 0;
    const reply = await get(base, agent, '/throw');
    assert.equal(reply.status, 500);
    assert.match(logged.join('\n'), /sluice: the fetch handler failed for GET \/throw: Error: the route failed/);
    routes.set('/not-a-response', () => ({ status: 200 }) as unknown as Response);
    assert.equal((await get(base, agent, '/not-a-response')).status, 500);
    assert.match(logged.join('\n'), /must return a Response; it returned an object/);
    routes.set('/sync-throw', () => {
      throw new RangeError('sync');
    });
    assert.equal((await get(base, agent, '/sync-throw')).status, 500);
    assert.equal((await get(base, agent, '/f/size-1000.bin')).status, 200);
  });

  it('should stop pulling a stream a client does not read, and cancel it when the client goes', async () => {
    let pulled = 0;
    let cancelled: () => void = () => {};
    const wasCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    routes.set('/endless', () => {
      const chunk = new Uint8Array(64 * 1024);
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += chunk.length;
          controller.enqueue(chunk);
        },
        cancel() {
          cancelled();
        },
      });
      return new Response(body);
    });
    const socket = await connect(Number(new URL(base).port));
    socket.pause();
    socket.write(requestText('GET', '/endless'));
    await new Promise((r) => setTimeout(r, 500));
    const stalled = pulled;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(pulled === stalled, `still pulling: ${stalled} then ${pulled} bytes`);
    assert.ok(pulled < 64 * 1024 * 1024, `pulled ${pulled} bytes for a client that reads none`);
    socket.destroy();
    await wasCancelled;
  });
});
