// sendFile(req, res, path, options) on every engine, side by side with
// Express's own res.sendFile on the same cases: an SPA catch-all answering
// every route with index.html, the options, conditionals and ranges, and
// the errors Express hands to next(err) (with the same status). Then the
// forms of the call: callback, promise, a plain http handler.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { Agent } from 'undici';
import { sendFile, type SendFileOptions } from '../../server/src/index';
import { fixtures, sha256 } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';

/** Fields both implementations must agree on, when present in either. */
const COMPARED = ['content-type', 'content-length', 'content-range', 'etag', 'last-modified', 'cache-control', 'accept-ranges', 'x-extra'];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function listen(app: http.RequestListener): Promise<{ base: string; server: http.Server }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

forEachEngine('sendFile', (engine) => {
  const fx = fixtures();
  let ours: { base: string; server: http.Server };
  let theirs: { base: string; server: http.Server };
  let agent: Agent;
  const seen: Array<{ status?: number; code?: string }> = [];

  /** The same routes, answered by `send(res, file, opts, next)`. */
  function app(send: (req: express.Request, res: express.Response, file: string, opts: SendFileOptions, next: express.NextFunction) => void): express.Express {
    const a = express();
    const route = (file: string, opts: SendFileOptions = {}): RequestHandler => {
      return (req, res, next) => send(req, res, file, opts, next);
    };
    a.get('/abs', route(fx.fileFor(1024 * 1024 + 3)));
    a.get('/cached', route('hello.txt', { root: fx.root, maxAge: '2h', immutable: true }));
    a.get('/bare', route('hello.txt', { root: fx.root, cacheControl: false, lastModified: false, acceptRanges: false }));
    // Express wires res.sendFile's etag to the app's setting: compared on ours only.
    a.get('/no-etag', route('hello.txt', { root: fx.root, etag: false }));
    a.get('/headers', route('style.css', { root: fx.root, headers: { 'X-Extra': 'yes', 'Cache-Control': 'no-store' } }));
    a.get('/dot-ignore', route('.secret', { root: fx.root }));
    a.get('/dot-deny', route('.secret', { root: fx.root, dotfiles: 'deny' }));
    a.get('/dot-allow', route('.secret', { root: fx.root, dotfiles: 'allow' }));
    a.get('/missing', route('nope.txt', { root: fx.root }));
    a.get('/escape', route('../outside.txt', { root: fx.root }));
    a.get('/dir', route('dir', { root: fx.root }));
    a.get('/dir-slash', route('dir/', { root: fx.root }));
    a.get('/spaced', route('space name.txt', { root: fx.root }));
    // The SPA catch-all: every other GET is the app's index.html.
    a.get('/{*spa}', route('index.html', { root: fx.root }));
    const onError: ErrorRequestHandler = (err: Error & { status?: number; code?: string }, _req, res, _next) => {
      seen.push({ status: err.status, code: err.code });
      res.status(err.status ?? 500).send(`error ${err.status}`);
    };
    a.use(onError);
    return a;
  }

  before(async () => {
    ours = await listen(app((req, res, file, opts, next) => void sendFile(req, res, file, { ...opts, engine }).catch(next)));
    theirs = await listen(app((_req, res, file, opts, next) => res.sendFile(file, opts, (err) => err && next(err))));
    agent = new Agent({ connections: 2 });
  });
  after(async () => {
    await agent.close();
    for (const s of [ours.server, theirs.server]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  const get = async (base: string, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> => {
    const res = await agent.request({ origin: base, path: urlPath, method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  /** Asks both; asserts the same status, compared fields and body; returns ours. */
  const same = async (urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> => {
    const [a, b] = [await get(ours.base, urlPath, headers, method), await get(theirs.base, urlPath, headers, method)];
    assert.equal(a.status, b.status, `${method} ${urlPath} ${JSON.stringify(headers)}: status`);
    for (const name of COMPARED) assert.equal(a.headers[name], b.headers[name], `${method} ${urlPath}: ${name}`);
    assert.equal(sha256(a.body), sha256(b.body), `${method} ${urlPath}: body`);
    return a;
  };

  describe('as an SPA catch-all', () => {
    it('should answer every route with index.html, as res.sendFile does', async () => {
      for (const route of ['/', '/app', '/users/42/settings', '/a%20b']) {
        const res = await same(route);
        assert.equal(res.status, 200);
        assert.match(res.body.toString(), /<title>root<\/title>/);
      }
      const head = await same('/users/1', {}, 'HEAD');
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], String(fx.bytes('/index.html').length));
    });

    it('should answer conditionals and ranges as res.sendFile does', async () => {
      const first = await same('/any');
      const etag = String(first.headers.etag);
      assert.equal((await same('/any', { 'if-none-match': etag })).status, 304);
      assert.equal((await same('/any', { 'if-modified-since': String(first.headers['last-modified']) })).status, 304);
      assert.equal((await same('/any', { range: 'bytes=2-9' })).status, 206);
      assert.equal((await same('/any', { range: 'bytes=2-9', 'if-range': etag })).status, 206);
      assert.equal((await same('/any', { range: 'bytes=2-9', 'if-range': 'W/"other"' })).status, 200);
      assert.equal((await same('/any', { 'if-match': '"nope"' })).status, 412);
      assert.equal((await same('/any', { range: 'bytes=9999-' })).status, 416);
    });
  });

  it('should send an absolute path byte-exact, whole and ranged', async () => {
    const data = fx.bytes('/size-1048579.bin');
    const whole = await same('/abs');
    assert.equal(sha256(whole.body), sha256(data));
    const part = await same('/abs', { range: 'bytes=65536-196607' });
    assert.ok(part.body.equals(data.subarray(65536, 196608)));
  });

  it('should apply maxAge, immutable, cacheControl, lastModified, etag and acceptRanges as res.sendFile does', async () => {
    assert.equal((await same('/cached')).headers['cache-control'], 'public, max-age=7200, immutable');
    const bare = await same('/bare');
    assert.equal((await get(ours.base, '/no-etag')).headers.etag, undefined);
    assert.equal(bare.headers['last-modified'], undefined);
    assert.equal(bare.headers['cache-control'], undefined);
    assert.equal(bare.headers['accept-ranges'], undefined);
    assert.equal((await same('/bare', { range: 'bytes=0-1' })).status, 200);
  });

  it('should set the headers option, over its own', async () => {
    const res = await same('/headers');
    assert.equal(res.headers['x-extra'], 'yes');
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('should refuse what res.sendFile refuses, with the same status', async () => {
    seen.length = 0;
    assert.equal((await same('/dot-ignore')).status, 404);
    assert.equal((await same('/dot-deny')).status, 403);
    assert.equal((await same('/dot-allow')).status, 200);
    assert.equal((await same('/missing')).status, 404);
    assert.equal((await same('/escape')).status, 403);
    assert.equal((await same('/spaced')).status, 200);
    const statuses = seen.map((s) => s.status);
    assert.deepEqual(statuses, [404, 404, 403, 403, 404, 404, 403, 403]);
    assert.equal(seen[4].code, 'ENOENT');
  });

  it('should serve a directory index for a trailing slash, and report a directory without one as EISDIR', async () => {
    assert.match((await same('/dir-slash')).body.toString(), /<title>dir<\/title>/);
    seen.length = 0;
    const res = await get(ours.base, '/dir');
    assert.equal(res.status, 404);
    assert.deepEqual(seen, [{ status: 404, code: 'EISDIR' }]);
  });

  describe('called from a plain http handler', () => {
    it('should call back once the response has finished, and with the error otherwise', async () => {
      const reports: Array<string | undefined> = [];
      const s = await listen((req, res) => {
        const file = req.url === '/ok' ? 'hello.txt' : 'nope.txt';
        sendFile(req, res, file, { root: fx.root, engine }, (err) => {
          reports.push(err ? `${(err as Error & { status?: number }).status}` : res.writableFinished ? 'finished' : 'early');
          if (err) res.writeHead(418).end();
        });
      });
      try {
        assert.equal((await get(s.base, '/ok')).body.toString(), 'hello, world\n');
        assert.equal((await get(s.base, '/missing')).status, 418);
        assert.deepEqual(reports, ['finished', '404']);
      } finally {
        s.server.closeAllConnections();
        await new Promise<void>((resolve) => s.server.close(() => resolve()));
      }
    });

    it('should resolve the promise, and reject it with the status', async () => {
      const s = await listen((req, res) => {
        sendFile(req, res, path.join(fx.root, req.url ?? '/'), { engine }).then(
          () => undefined,
          (err: Error & { status: number }) => res.writeHead(err.status).end(String(err.status)),
        );
      });
      try {
        assert.equal((await get(s.base, '/dir/sub/page.txt')).body.toString(), 'sub page\n');
        assert.equal((await get(s.base, '/.secret')).body.toString(), '404');
        assert.equal((await get(s.base, '/nothing')).body.toString(), '404');
      } finally {
        s.server.closeAllConnections();
        await new Promise<void>((resolve) => s.server.close(() => resolve()));
      }
    });
  });
});

describe('sendFile arguments', () => {
  const req = {} as http.IncomingMessage;
  const res = {} as http.ServerResponse;

  it("should throw Express's TypeErrors for a missing, non-string or relative path", () => {
    assert.throws(() => sendFile(req, res, ''), /path argument is required/);
    assert.throws(() => sendFile(req, res, 42 as unknown as string), /path must be a string/);
    assert.throws(() => sendFile(req, res, 'relative.txt'), /path must be absolute or specify root/);
  });
});
