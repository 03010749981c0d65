// serveStatic as a drop-in for serve-static 2.x: the behaviours its own
// suite checks, in our words, through a real Express app and undici.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { Agent } from 'undici';
import { serveStatic, type SluiceOptions } from '../../server/src/index';
import { scratchDir } from '../helpers/fixtures';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The fixture tree serve-static's suite uses, written afresh. */
function makeRoot(): string {
  const root = path.join(scratchDir(), 'fixtures');
  const files: Record<string, string> = {
    'todo.txt': '- groceries',
    'todo.html': '<li>groceries</li>',
    'nums.txt': '123456789',
    'empty.txt': '',
    'foo bar': 'baz',
    '.hidden': 'I am hidden',
    'users/index.html': '<p>tobi, loki, jane</p>',
    'users/tobi.txt': 'ferret',
    'pets/names.txt': 'rex',
    'snow \u2603/flake.txt': '*',
  };
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return root;
}

describe('serveStatic as serve-static', () => {
  const root = makeRoot();
  const servers: http.Server[] = [];
  // Agent.request sends the path as written (undici's request() would
  // resolve `..` the way a browser does).
  const agent = new Agent();
  after(async () => {
    await agent.close();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  });

  /** The suite's shape: the middleware, then a 404 'sorry!', then an error handler. */
  async function serve(opts?: SluiceOptions | null, options: { mount?: string; dir?: string; before?: RequestHandler } = {}): Promise<string> {
    const app = express();
    if (options.before) app.use(options.before);
    const middleware = serveStatic(options.dir ?? root, opts);
    if (options.mount) app.use(options.mount, middleware);
    else app.use(middleware);
    app.use((_req, res) => {
      res.status(404).send('sorry!');
    });
    const onError: ErrorRequestHandler = (err: Error & { status?: number; code?: string }, _req, res, _next) => {
      res
        .status(err.status ?? 500)
        .set('x-error', `${err.name}:${err.code ?? ''}`)
        .send(`error: ${err.message}`);
    };
    app.use(onError);
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function get(base: string, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
    const res = await agent.request({ origin: base, path: target, method: method as 'GET', headers });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  describe('construction', () => {
    it('should require a root path', () => {
      assert.throws(() => (serveStatic as (root?: unknown) => unknown)(), { name: 'TypeError', message: 'root path required' });
      assert.throws(() => serveStatic(''), /root path required/);
    });

    it('should require the root path to be a string', () => {
      assert.throws(() => serveStatic(42 as unknown as string), { name: 'TypeError', message: 'root path must be a string' });
    });

    it('should refuse a setHeaders that is not a function', () => {
      assert.throws(() => serveStatic(root, { setHeaders: 3 as unknown as () => void }), /setHeaders.*function/);
    });

    it('should refuse non-string extensions and index entries', () => {
      assert.throws(() => serveStatic(root, { extensions: [1] as unknown as string[] }), /extensions option must be array of strings or false/);
      assert.throws(() => serveStatic(root, { index: [false] as unknown as string[] }), /index option must be array of strings or false/);
    });

    it('should refuse an unknown dotfiles policy', () => {
      assert.throws(() => serveStatic(root, { dotfiles: 'show' as 'allow' }), /dotfiles option must be "allow", "deny", or "ignore"/);
    });

    it('should accept null options', async () => {
      const base = await serve(null);
      assert.equal((await get(base, '/todo.txt')).body, '- groceries');
    });
  });

  describe('when serving files', () => {
    let base: string;
    before(async () => {
      base = await serve();
    });

    it('should send the file with its type, validators and caching headers', async () => {
      const res = await get(base, '/todo.txt');
      assert.equal(res.status, 200);
      assert.equal(res.body, '- groceries');
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'public, max-age=0');
      assert.equal(res.headers['accept-ranges'], 'bytes');
      assert.match(String(res.headers['last-modified']), /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      assert.match(String(res.headers.etag), /^W\/"b-[0-9a-f]+"$/);
    });

    it('should serve nested files, encoded names and a ".." that stays inside root', async () => {
      assert.equal((await get(base, '/users/tobi.txt')).body, 'ferret');
      assert.equal((await get(base, '/foo%20bar')).body, 'baz');
      const up = await get(base, '/users/../todo.txt');
      assert.equal(up.status, 200);
      assert.equal(up.body, '- groceries');
    });

    it('should serve index.html for a directory with its slash', async () => {
      const res = await get(base, '/users/');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /html/);
      assert.equal(res.body, '<p>tobi, loki, jane</p>');
    });

    it('should answer HEAD with headers and no body', async () => {
      const res = await get(base, '/todo.txt', {}, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '11');
      assert.equal(res.body, '');
    });

    it('should serve an empty file', async () => {
      const res = await get(base, '/empty.txt');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '0');
      assert.equal(res.body, '');
    });

    it('should answer 304 to a matching If-None-Match', async () => {
      const first = await get(base, '/todo.txt');
      const res = await get(base, '/todo.txt', { 'if-none-match': String(first.headers.etag) });
      assert.equal(res.status, 304);
    });

    it('should send a failed If-Match to the error handler as 412, fallthrough or not', async () => {
      const res = await get(base, '/todo.txt', { 'if-match': '"foo"' });
      assert.equal(res.status, 412);
      assert.equal(res.headers['x-error'], 'PreconditionFailedError:');
    });

    it('should pass other methods on to the next handler', async () => {
      for (const method of ['POST', 'OPTIONS', 'DELETE']) {
        const res = await get(base, '/todo.txt', {}, method);
        assert.equal(res.status, 404, method);
        assert.equal(res.body, 'sorry!');
      }
    });

    it('should pass missing files, hidden files, bad URLs and traversal on to the next handler', async () => {
      for (const target of [
        '/does-not-exist',
        '/.hidden',
        '/%',
        '/users/../../todo.txt',
        '/todo',
        '//todo@txt',
        '/todo.txt/a.php',
        `/${'foobar'.repeat(99)}`,
      ]) {
        const res = await get(base, target);
        assert.equal(res.status, 404, target);
        assert.equal(res.body, 'sorry!', target);
      }
    });

    it('should keep a status set by earlier middleware, and never turn it into 304', async () => {
      const preset = await serve(undefined, {
        before: (_req, res, next) => {
          res.statusCode = 500;
          next();
        },
      });
      const first = await get(base, '/todo.txt');
      const res = await get(preset, '/todo.txt', { 'if-none-match': String(first.headers.etag) });
      assert.equal(res.status, 500);
      assert.equal(res.body, '- groceries');
    });
  });

  describe('with fallthrough: false', () => {
    let base: string;
    before(async () => {
      base = await serve({ fallthrough: false });
    });

    it('should answer other methods with 405 and Allow', async () => {
      const res = await get(base, '/todo.txt', {}, 'OPTIONS');
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET, HEAD');
    });

    it('should forward a malformed URL as a 400 BadRequestError', async () => {
      const res = await get(base, '/%');
      assert.equal(res.status, 400);
      assert.equal(res.headers['x-error'], 'BadRequestError:');
    });

    it('should forward traversal past root as a 403 ForbiddenError', async () => {
      for (const target of ['/users/../../todo.txt', '/users/%2e%2e/%2e%2e/todo.txt', '/users/../../fixtures/todo.txt']) {
        const res = await get(base, target);
        assert.equal(res.status, 403, target);
        assert.equal(res.headers['x-error'], 'ForbiddenError:');
      }
    });

    it('should forward a missing file as 404 with its errno code and no path', async () => {
      const res = await get(base, '/does-not-exist.txt');
      assert.equal(res.status, 404);
      assert.equal(res.headers['x-error'], 'Error:ENOENT');
      assert.match(res.body, /ENOENT/);
      assert.ok(!res.body.includes(root), res.body);
      assert.ok(!res.body.includes('does-not-exist'), res.body);
    });

    it('should forward a root too long for the file system as 404 ENAMETOOLONG', async () => {
      const long = await serve({ fallthrough: false }, { dir: root + '/foobar'.repeat(2000) });
      const res = await get(long, '/');
      assert.equal(res.status, 404);
      assert.match(res.body, /ENAMETOOLONG/);
      assert.ok(!res.body.includes('foobar'), 'no path in the message');
    });

    it('should forward a directory without index as 404', async () => {
      const res = await get(base, '/pets/');
      assert.equal(res.status, 404);
      assert.match(String(res.headers['x-error']), /NotFoundError|ENOENT/);
    });

    it('should still redirect a directory without its slash', async () => {
      const res = await get(base, '/pets');
      assert.equal(res.status, 301);
      assert.match(res.body, /Redirecting/);
    });

    it('should forward a directory as 404 when redirect is off', async () => {
      const noRedirect = await serve({ fallthrough: false, redirect: false });
      for (const target of ['/pets', '/pets/']) {
        const res = await get(noRedirect, target);
        assert.equal(res.status, 404, target);
        assert.match(String(res.headers['x-error']), /NotFoundError|ENOENT/);
      }
    });
  });

  describe('with fallthrough: true and directories', () => {
    it('should fall through for a directory with its slash and no index', async () => {
      const base = await serve({ fallthrough: true });
      assert.equal((await get(base, '/pets/')).body, 'sorry!');
      assert.equal((await get(base, '/pets')).status, 301);
    });

    it('should fall through for a directory when redirect is off', async () => {
      const base = await serve({ fallthrough: true, redirect: false });
      assert.equal((await get(base, '/pets')).body, 'sorry!');
      assert.equal((await get(base, '/pets/')).body, 'sorry!');
    });
  });

  describe('options', () => {
    it('acceptRanges: false should drop Accept-Ranges and ignore Range', async () => {
      const base = await serve({ acceptRanges: false });
      const res = await get(base, '/nums.txt', { range: 'bytes=0-3' });
      assert.equal(res.status, 200);
      assert.equal(res.body, '123456789');
      assert.equal(res.headers['accept-ranges'], undefined);
      assert.equal(res.headers['content-range'], undefined);
    });

    it('cacheControl: false should drop Cache-Control, maxAge or not', async () => {
      const base = await serve({ cacheControl: false, maxAge: 12000 });
      assert.equal((await get(base, '/nums.txt')).headers['cache-control'], undefined);
    });

    it('maxAge should take milliseconds, ms-style strings and cap at a year', async () => {
      const cases: Array<[SluiceOptions['maxAge'], string]> = [
        [12000, 'public, max-age=12'],
        ['30d', `public, max-age=${60 * 60 * 24 * 30}`],
        ['1 hour', 'public, max-age=3600'],
        [Infinity, `public, max-age=${60 * 60 * 24 * 365}`],
        [-5, 'public, max-age=0'],
        ['soon', 'public, max-age=0'],
      ];
      for (const [maxAge, expected] of cases) {
        const base = await serve({ maxAge });
        assert.equal((await get(base, '/todo.txt')).headers['cache-control'], expected, String(maxAge));
      }
    });

    it('maxage (lower case) should work as serve-static reads it', async () => {
      const base = await serve({ maxage: '1m' });
      assert.equal((await get(base, '/todo.txt')).headers['cache-control'], 'public, max-age=60');
    });

    it('immutable should add the directive', async () => {
      const base = await serve({ immutable: true, maxAge: '1h' });
      assert.equal((await get(base, '/nums.txt')).headers['cache-control'], 'public, max-age=3600, immutable');
    });

    it('lastModified: false and etag: false should drop the validators', async () => {
      const base = await serve({ lastModified: false, etag: false });
      const res = await get(base, '/nums.txt');
      assert.equal(res.headers['last-modified'], undefined);
      assert.equal(res.headers.etag, undefined);
      assert.equal(res.body, '123456789');
    });

    it('extensions should try each in order, and only for a missing name without one', async () => {
      assert.equal((await get(await serve({ extensions: 'txt' }), '/todo')).body, '- groceries');
      assert.equal((await get(await serve({ extensions: ['htm', 'html', 'txt'] }), '/todo')).body, '<li>groceries</li>');
      assert.equal((await get(await serve({ extensions: ['htm', 'html', 'txt'] }), '/bob')).status, 404);
      assert.equal((await get(await serve({ extensions: false }), '/todo')).status, 404);
      assert.equal((await get(await serve(), '/todo')).status, 404);
    });

    it('dotfiles should ignore (404), deny (403) or allow', async () => {
      assert.equal((await get(await serve({ dotfiles: 'allow' }), '/.hidden')).body, 'I am hidden');
      assert.equal((await get(await serve({ dotfiles: 'deny', fallthrough: false }), '/.hidden')).status, 403);
      assert.equal((await get(await serve({ dotfiles: 'deny' }), '/.hidden')).body, 'sorry!');
      assert.equal((await get(await serve({ dotfiles: 'ignore', fallthrough: false }), '/.hidden')).status, 404);
    });

    it('index should name the files tried for a directory, or none', async () => {
      fs.writeFileSync(path.join(root, 'pets', 'default.txt'), 'default');
      try {
        assert.equal((await get(await serve({ index: ['missing.html', 'default.txt'] }), '/pets/')).body, 'default');
        assert.equal((await get(await serve({ index: 'default.txt' }), '/pets/')).body, 'default');
        assert.equal((await get(await serve({ index: false }), '/users/')).body, 'sorry!');
      } finally {
        fs.rmSync(path.join(root, 'pets', 'default.txt'));
      }
    });

    it('setHeaders should run for files only, with the path and stat', async () => {
      const seen: string[] = [];
      const base = await serve({
        setHeaders: (res, filePath, stat) => {
          seen.push(`${path.relative(root, filePath)}:${stat.size}`);
          res.setHeader('x-custom', 'set');
        },
      });
      assert.equal((await get(base, '/nums.txt')).headers['x-custom'], 'set');
      assert.equal((await get(base, '/bogus')).headers['x-custom'], undefined);
      assert.equal((await get(base, '/users')).headers['x-custom'], undefined);
      assert.deepEqual(seen, ['nums.txt:9']);
    });

    it('setHeaders should win over the defaults it sets', async () => {
      const base = await serve({ setHeaders: (res) => res.setHeader('Cache-Control', 'no-store') });
      assert.equal((await get(base, '/nums.txt')).headers['cache-control'], 'no-store');
    });
  });

  describe('redirects', () => {
    let base: string;
    before(async () => {
      base = await serve(undefined, {
        before: (req, res, next) => {
          // As a router that rewrites the URL before Express records it would.
          req.url = req.url.replace(/\/snow(\/|$)/, '/snow \u2603$1');
          req.originalUrl = req.url;
          if (req.url.startsWith('/pets')) res.setHeader('Content-Security-Policy', "default-src 'self'");
          next();
        },
      });
    });

    it('should send 301 to the slash form with an HTML body', async () => {
      const res = await get(base, '/users');
      assert.equal(res.status, 301);
      assert.equal(res.headers.location, '/users/');
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.body, />Redirecting to \/users\/</);
      assert.equal(res.headers['content-security-policy'], "default-src 'none'");
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    });

    it('should keep the query string', async () => {
      assert.equal((await get(base, '/users?name=john')).headers.location, '/users/?name=john');
    });

    it('should never redirect to a protocol-relative location', async () => {
      assert.equal((await get(base, '//users')).headers.location, '/users/');
    });

    it('should percent-encode the location', async () => {
      const res = await get(base, '/snow');
      assert.equal(res.headers.location, '/snow%20%E2%98%83/');
      assert.match(res.body, />Redirecting to \/snow%20%E2%98%83\/</);
    });

    it('should keep a Content-Security-Policy set earlier', async () => {
      assert.equal((await get(base, '/pets')).headers['content-security-policy'], "default-src 'self'");
    });

    it('should not redirect the root', async () => {
      assert.equal((await get(base, '/')).status, 404);
    });
  });

  describe('when mounted', () => {
    it('should redirect relative to the mount point', async () => {
      const base = await serve(undefined, { mount: '/static' });
      assert.equal((await get(base, '/static/users')).headers.location, '/static/users/');
      assert.equal((await get(base, '/static/users/tobi.txt')).body, 'ferret');
    });

    it('should redirect the mount point itself to its slash form', async () => {
      const base = await serve(undefined, { mount: '/users', dir: path.join(root, 'users') });
      const res = await get(base, '/users');
      assert.equal(res.status, 301);
      assert.equal(res.headers.location, '/users/');
      assert.equal((await get(base, '/users/')).body, '<p>tobi, loki, jane</p>');
    });

    it('should pass directories on when index is off, and still redirect', async () => {
      const base = await serve({ index: false }, { mount: '/static' });
      assert.equal((await get(base, '/static/users/')).body, 'sorry!');
      assert.equal((await get(base, '/static/users')).headers.location, '/static/users/');
      assert.equal((await get(base, '/static/')).body, 'sorry!');
      assert.equal((await get(base, '/static')).headers.location, '/static/');
    });

    it('should serve a root that is a file at its mount point', async () => {
      const base = await serve(undefined, { mount: '/todo', dir: path.join(root, 'todo.txt') });
      assert.equal((await get(base, '/todo')).body, '- groceries');
      assert.equal((await get(base, '/todo/')).status, 404);
    });

    it('should answer 404 for anything under a root that does not exist', async () => {
      const base = await serve(undefined, { dir: path.join(root, 'does_not_exist') });
      assert.equal((await get(base, '/todo.txt')).status, 404);
      assert.equal((await get(base, '/../todo.txt')).status, 404);
    });
  });

  describe('with a Range header', () => {
    let base: string;
    before(async () => {
      base = await serve();
    });

    const cases: Array<[string, number, string, string | undefined]> = [
      ['bytes=0-4', 206, '12345', 'bytes 0-4/9'],
      ['bytes=0-0', 206, '1', 'bytes 0-0/9'],
      ['bytes=2-5', 206, '3456', 'bytes 2-5/9'],
      ['bytes=-3', 206, '789', 'bytes 6-8/9'],
      ['bytes=3-', 206, '456789', 'bytes 3-8/9'],
      ['bytes=2-50', 206, '3456789', 'bytes 2-8/9'],
      ['asdf', 200, '123456789', undefined],
    ];
    for (const [range, status, body, contentRange] of cases) {
      it(`should answer ${range} with ${status}`, async () => {
        const res = await get(base, '/nums.txt', { range });
        assert.equal(res.status, status);
        assert.equal(res.body, body);
        assert.equal(res.headers['content-length'], String(body.length));
        assert.equal(res.headers['content-range'], contentRange);
      });
    }

    it('should forward an unsatisfiable range as 416 with Content-Range */size', async () => {
      const res = await get(base, '/nums.txt', { range: 'bytes=9-50' });
      assert.equal(res.status, 416);
      assert.equal(res.headers['content-range'], 'bytes */9');
      assert.equal(res.headers['x-error'], 'RangeNotSatisfiableError:');
    });
  });
});
