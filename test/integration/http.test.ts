// HTTP semantics of the standalone server on every engine: methods,
// validators, conditionals, errors, path safety, directories.
import { strict as assert } from 'node:assert';
import { Agent } from 'undici';
import { getter } from '../helpers/http-client';
import { fixtures } from '../helpers/fixtures';
import { connect, readResponses, requestText } from '../helpers/raw-http';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

forEachEngine('http', (engine) => {
  const fx = fixtures();
  let server: TestServer;
  let agent: Agent;
  before(async () => {
    server = await startServer(fx.root, { engine });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await server.close();
  });

  const get = getter(
    () => server.url,
    () => agent,
  );

  /** Sends a request target exactly as written (undici would normalise it). */
  const rawGet = async (target: string) => {
    const socket = await connect(server.port);
    try {
      socket.write(requestText('GET', target));
      const [res] = await readResponses(socket, 1);
      assert.ok(res);
      return res;
    } finally {
      socket.destroy();
    }
  };

  describe('headers', () => {
    it('should send type, length, validators and ranges support', async () => {
      const res = await get('/hello.txt');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(res.headers['content-length'], '13');
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.match(String(res.headers.etag), /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      assert.ok(!Number.isNaN(Date.parse(String(res.headers['last-modified']))));
      assert.equal(res.headers['cache-control'], 'public, max-age=0');
      assert.equal(res.body.toString(), 'hello, world\n');
    });

    it('should type by extension with charset for text', async () => {
      assert.equal((await get('/style.css')).headers['content-type'], 'text/css; charset=utf-8');
      assert.equal((await get('/data.json')).headers['content-type'], 'application/json; charset=utf-8');
      assert.equal((await get('/size-1.bin')).headers['content-type'], 'application/octet-stream');
    });
  });

  describe('methods', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      it(`should answer ${method} with 405 and Allow: GET, HEAD`, async () => {
        const res = await get('/hello.txt', {}, method);
        assert.equal(res.status, 405);
        assert.equal(res.headers.allow, 'GET, HEAD');
      });
    }
  });

  describe('when conditional', () => {
    it('should answer 304 to a matching If-None-Match', async () => {
      const first = await get('/hello.txt');
      const res = await get('/hello.txt', { 'if-none-match': String(first.headers.etag) });
      assert.equal(res.status, 304);
      assert.equal(res.body.length, 0);
      assert.equal(res.headers.etag, first.headers.etag);
    });

    it('should answer 200 to a different If-None-Match', async () => {
      const res = await get('/hello.txt', { 'if-none-match': 'W/"nope"' });
      assert.equal(res.status, 200);
    });

    it('should answer 304 to If-Modified-Since at Last-Modified', async () => {
      const first = await get('/hello.txt');
      const res = await get('/hello.txt', { 'if-modified-since': String(first.headers['last-modified']) });
      assert.equal(res.status, 304);
    });

    it('should let If-None-Match take precedence over If-Modified-Since', async () => {
      const first = await get('/hello.txt');
      const res = await get('/hello.txt', { 'if-none-match': '"other"', 'if-modified-since': String(first.headers['last-modified']) });
      assert.equal(res.status, 200);
    });

    it('should answer 412 to a failing If-Match', async () => {
      assert.equal((await get('/hello.txt', { 'if-match': '"nope"' })).status, 412);
    });

    it('should answer 412 to If-Unmodified-Since before Last-Modified', async () => {
      assert.equal((await get('/hello.txt', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 412);
    });

    it('should honour Range when If-Range matches and ignore it when not', async () => {
      const first = await get('/size-4095.bin');
      const etag = String(first.headers.etag);
      assert.equal((await get('/size-4095.bin', { range: 'bytes=0-9', 'if-range': etag })).status, 206);
      const stale = await get('/size-4095.bin', { range: 'bytes=0-9', 'if-range': 'W/"stale"' });
      assert.equal(stale.status, 200);
      assert.equal(stale.body.length, 4095);
    });
  });

  describe('errors', () => {
    it('should answer 404 for a missing file, leaking no path', async () => {
      const res = await get('/missing.txt');
      assert.equal(res.status, 404);
      assert.equal(res.headers['content-type'], 'text/html; charset=UTF-8');
      assert.ok(!res.body.toString().includes(fx.root));
    });

    it('should answer 404 for a file requested as a directory', async () => {
      assert.equal((await get('/hello.txt/')).status, 404);
    });

    it('should answer 400 for a NUL byte', async () => {
      assert.equal((await rawGet('/hello.txt%00.html')).status, 400);
    });

    it('should answer 400 for malformed percent-encoding', async () => {
      assert.equal((await rawGet('/%E0%A4%A')).status, 400);
      assert.equal((await rawGet('/%c0%ae%c0%ae/etc/passwd')).status, 400);
    });
  });

  describe('path safety', () => {
    const corpus = [
      '/../outside.txt',
      '/%2e%2e/outside.txt',
      '/%2E%2E%2Foutside.txt',
      '/..%2foutside.txt',
      '/..%5coutside.txt',
      '/..\\outside.txt',
      '/dir/../../outside.txt',
      '/dir/%2e%2e/%2e%2e/outside.txt',
      '/../public-other/secret.txt',
      '/%2e%2e/public-other/secret.txt',
      '/./../outside.txt',
      '//../outside.txt',
      '/.%2e/outside.txt',
    ];
    for (const target of corpus) {
      it(`should never serve outside the root for ${target}`, async () => {
        const res = await rawGet(target);
        assert.ok([400, 403, 404].includes(res.status), `status ${res.status}`);
        assert.ok(!res.body.toString().includes('outside the root'));
      });
    }

    it('should not serve dotfiles or files in dot-directories by default', async () => {
      assert.equal((await get('/.secret')).status, 404);
      assert.equal((await get('/.hidden-dir/file.txt')).status, 404);
    });

    it('should decode percent-encoded names', async () => {
      const res = await get('/space%20name.txt');
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'spaced\n');
    });
  });

  describe('directories', () => {
    it('should serve index.html for /', async () => {
      const res = await get('/');
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /<title>root<\/title>/);
    });

    it('should serve index.html for a directory with a trailing slash', async () => {
      assert.match((await get('/dir/')).body.toString(), /<title>dir<\/title>/);
    });

    it('should redirect a directory without its slash with 301', async () => {
      const res = await get('/dir?x=1');
      assert.equal(res.status, 301);
      assert.equal(res.headers.location, '/dir/?x=1');
    });

    it('should never redirect to another host', async () => {
      for (const target of ['//dir', '///dir', '/%2Fdir']) {
        const res = await rawGet(target);
        if (res.status === 301) {
          const location = res.headers.location ?? '';
          assert.ok(location.startsWith('/') && !location.startsWith('//') && !location.startsWith('/\\'), location);
        }
      }
    });

    it('should answer 404 for a directory without index.html', async () => {
      assert.equal((await get('/noindex/')).status, 404);
    });
  });
});
