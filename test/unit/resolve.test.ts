import { strict as assert } from 'node:assert';
import { MAX_PATH_LENGTH, PathResolver, redirectLocation, resolvePath, urlPathname, type DotfilePolicy, type Resolution } from '../../server/src/resolve';

const ROOT = '/srv/public';

function file(path: string, trailingSlash = false): Resolution {
  return { kind: 'path', path, trailingSlash } as Resolution;
}

/** A resolution without the decoded request path (checked on its own below). */
function strip(r: Resolution): Resolution {
  if (r.kind !== 'path') return r;
  const { decoded: _decoded, ...rest } = r;
  return rest as Resolution;
}

const BAD_REQUEST: Resolution = { kind: 'error', status: 400, reason: 'Bad Request' };
const FORBIDDEN: Resolution = { kind: 'error', status: 403, reason: 'Forbidden' };
const NOT_FOUND: Resolution = { kind: 'error', status: 404, reason: 'Not Found' };

interface Case {
  url: string;
  expected: Resolution;
  root?: string;
  dotfiles?: DotfilePolicy;
}

function runTable(table: Case[]): void {
  for (const { url, expected, root = ROOT, dotfiles = 'ignore' } of table) {
    const outcome = expected.kind === 'path' ? expected.path : String(expected.status);
    it(`should resolve ${JSON.stringify(url)} under ${root} (dotfiles ${dotfiles}) to ${outcome}`, () => {
      assert.deepEqual(strip(resolvePath(root, url, { dotfiles })), expected);
      // The remembering resolver: the same answer, first time and from memory.
      const resolver = new PathResolver(root, { dotfiles });
      assert.deepEqual(strip(resolver.resolve(url)), expected);
      assert.deepEqual(strip(resolver.resolve(url)), expected);
    });
  }
}

describe('PathResolver', () => {
  it('should stay within its capacity and keep answering right past it', () => {
    const resolver = new PathResolver(ROOT, { dotfiles: 'ignore' }, 8);
    for (let i = 0; i < 100; i++) {
      assert.deepEqual(strip(resolver.resolve(`/f${i}.txt`)), file(`/srv/public/f${i}.txt`));
      assert.ok(resolver.size <= 8, `size ${resolver.size}`);
    }
    assert.deepEqual(strip(resolver.resolve('/f99.txt')), file('/srv/public/f99.txt'));
  });

  it('should not remember very long targets', () => {
    const resolver = new PathResolver(ROOT, { dotfiles: 'ignore' });
    const long = `/${'a'.repeat(2000)}`;
    assert.deepEqual(strip(resolver.resolve(long)), file(`/srv/public${long}`));
    assert.equal(resolver.size, 0);
    resolver.resolve('/short');
    assert.equal(resolver.size, 1);
  });
});

describe('resolvePath', () => {
  describe('with a plain path', () => {
    runTable([
      { url: '/', expected: file('/srv/public/', true) },
      { url: '/index.html', expected: file('/srv/public/index.html') },
      { url: '/a/b/c.txt', expected: file('/srv/public/a/b/c.txt') },
      { url: '/a/b/', expected: file('/srv/public/a/b/', true) },
      { url: '/a/b', expected: file('/srv/public/a/b') },
      { url: '/a//b///c', expected: file('/srv/public/a/b/c') },
      { url: '/a/./b', expected: file('/srv/public/a/b') },
      { url: '/a/.', expected: file('/srv/public/a') },
      { url: '/a/b?x=1', expected: file('/srv/public/a/b') },
      { url: '/a/b/?x=/../..', expected: file('/srv/public/a/b/', true) },
      { url: '/a/b#frag', expected: file('/srv/public/a/b') },
      { url: '/a\\b', expected: file('/srv/public/a\\b') },
      { url: '/...', expected: file('/srv/public/...'), dotfiles: 'allow' },
      { url: '/a..b/..c', expected: file('/srv/public/a..b/..c'), dotfiles: 'allow' },
    ]);
  });

  describe('with percent-encoding', () => {
    runTable([
      { url: '/hello%20world.txt', expected: file('/srv/public/hello world.txt') },
      { url: '/%E2%82%AC.txt', expected: file('/srv/public/\u20ac.txt') },
      { url: '/a%2fb', expected: file('/srv/public/a/b') },
      { url: '/a%3Fb', expected: file('/srv/public/a?b') },
      { url: '/a%23b', expected: file('/srv/public/a#b') },
      { url: '/dir%2F', expected: file('/srv/public/dir/', true) },
      { url: '/%25', expected: file('/srv/public/%') },
      { url: '/%', expected: BAD_REQUEST },
      { url: '/%zz', expected: BAD_REQUEST },
      { url: '/%e2%82', expected: BAD_REQUEST },
      { url: '/%ff', expected: BAD_REQUEST },
      { url: '/%ed%a0%80', expected: BAD_REQUEST },
      { url: '/%c0%ae%c0%ae/etc/passwd', expected: BAD_REQUEST },
      { url: '/%c0%af', expected: BAD_REQUEST },
      { url: '/%e0%80%ae', expected: BAD_REQUEST },
    ]);
  });

  describe('with a NUL byte', () => {
    runTable([
      { url: '/a%00b', expected: BAD_REQUEST },
      { url: '/a\0b', expected: BAD_REQUEST },
      { url: '/index.html%00.txt', expected: BAD_REQUEST },
      { url: '/%00', expected: BAD_REQUEST },
    ]);
  });

  describe('with a malicious path', () => {
    runTable([
      { url: '/../etc/passwd', expected: FORBIDDEN },
      { url: '/..', expected: FORBIDDEN },
      { url: '/a/../../b', expected: FORBIDDEN },
      { url: '/a/b/../../../etc/passwd', expected: FORBIDDEN },
      { url: '/a/%2e%2e/%2e%2e/b', expected: FORBIDDEN },
      { url: '/%2e%2e/etc/passwd', expected: FORBIDDEN },
      { url: '/%2E%2E/etc/passwd', expected: FORBIDDEN },
      { url: '/.%2e/etc/passwd', expected: FORBIDDEN },
      { url: '/..%2f..%2fetc/passwd', expected: FORBIDDEN },
      { url: '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', expected: FORBIDDEN },
      { url: '/..%5c..%5cetc/passwd', expected: FORBIDDEN },
      { url: '/..\\..\\etc/passwd', expected: FORBIDDEN },
      { url: '/a\\..\\b', expected: FORBIDDEN },
      { url: '/a/..%5c', expected: FORBIDDEN },
      { url: '/%252e%252e/etc', expected: file('/srv/public/%2e%2e/etc') },
      { url: 'http://evil.com/../etc/passwd', expected: FORBIDDEN },
    ]);
  });

  // send normalises first: a ".." that stays below root is just a path.
  describe('with a ".." that stays inside root', () => {
    runTable([
      { url: '/a/../b', expected: file('/srv/public/b') },
      { url: '/a/..', expected: file('/srv/public') },
      { url: '/a/../', expected: file('/srv/public/', true) },
      { url: '/a/b/../c/', expected: file('/srv/public/a/c/', true) },
      { url: '/a/%2e%2e/b.txt', expected: file('/srv/public/b.txt') },
      { url: '/a%2f..%2fb', expected: file('/srv/public/b') },
      // Dotfiles are judged after normalising, as in send.
      { url: '/.git/../a', dotfiles: 'deny', expected: file('/srv/public/a') },
      { url: '/a/../.env', dotfiles: 'deny', expected: FORBIDDEN },
      { url: '/x', root: '/', expected: file('/x') },
      { url: '/a/../x', root: '/', expected: file('/x') },
      { url: '/../x', root: '/', expected: FORBIDDEN },
    ]);
  });

  describe('with root containment', () => {
    runTable([
      { url: '/x', root: '/', expected: file('/x') },
      { url: '/', root: '/', expected: file('/', true) },
      { url: '//etc/passwd', expected: file('/srv/public/etc/passwd') },
      { url: '/public-other/secret', root: '/srv/public', expected: file('/srv/public/public-other/secret') },
    ]);
  });

  describe('with dotfiles', () => {
    runTable([
      { url: '/.env', dotfiles: 'ignore', expected: NOT_FOUND },
      { url: '/.env', dotfiles: 'deny', expected: FORBIDDEN },
      { url: '/.env', dotfiles: 'allow', expected: file('/srv/public/.env') },
      { url: '/.git/config', dotfiles: 'ignore', expected: NOT_FOUND },
      { url: '/a/.git/', dotfiles: 'deny', expected: FORBIDDEN },
      { url: '/%2egit/config', dotfiles: 'deny', expected: FORBIDDEN },
      { url: '/a%2f.hidden', dotfiles: 'ignore', expected: NOT_FOUND },
      { url: '/.well-known/security.txt', dotfiles: 'ignore', expected: NOT_FOUND },
      { url: '/.well-known/security.txt', dotfiles: 'deny', expected: FORBIDDEN },
      { url: '/.well-known/security.txt', dotfiles: 'allow', expected: file('/srv/public/.well-known/security.txt') },
      { url: '/a.b/c.d', dotfiles: 'deny', expected: file('/srv/public/a.b/c.d') },
      { url: '/./a', dotfiles: 'deny', expected: file('/srv/public/a') },
      { url: '/...', dotfiles: 'ignore', expected: NOT_FOUND },
      { url: '/a/..b', dotfiles: 'deny', expected: FORBIDDEN },
      // Only the part below root counts: root itself may sit in a dot directory.
      { url: '/page.html', root: '/home/u/.www', dotfiles: 'deny', expected: file('/home/u/.www/page.html') },
      // ".." is refused before the dotfile policy, whatever it is.
      { url: '/..', dotfiles: 'allow', expected: FORBIDDEN },
    ]);
  });

  describe('with an unusual request target', () => {
    runTable([
      { url: 'http://example.com/a/b?q=1', expected: file('/srv/public/a/b') },
      { url: 'HTTPS://example.com:8443/a/', expected: file('/srv/public/a/', true) },
      { url: 'http://example.com', expected: file('/srv/public/', true) },
      { url: 'http://example.com?q', expected: file('/srv/public/', true) },
      { url: '*', expected: BAD_REQUEST },
      { url: '', expected: BAD_REQUEST },
      { url: 'example.com:443', expected: BAD_REQUEST },
      { url: 'a/b', expected: BAD_REQUEST },
      { url: 'http:/a', expected: BAD_REQUEST },
      { url: '?q', expected: BAD_REQUEST },
      { url: '\\\\evil\\share', expected: BAD_REQUEST },
    ]);
  });

  describe('with a very long path', () => {
    const tooLong: Resolution = { kind: 'error', status: 404, reason: 'Name too long' };
    const longest = '/' + 'a'.repeat(MAX_PATH_LENGTH - 1);
    runTable([
      { url: longest, expected: file(ROOT + longest) },
      { url: longest + 'a', expected: tooLong },
      { url: '/' + '%2e%2e/'.repeat(2000), expected: tooLong },
      { url: longest + '?' + 'q'.repeat(MAX_PATH_LENGTH), expected: file(ROOT + longest) },
    ]);
  });
});

describe('urlPathname', () => {
  const table: Array<[string, string]> = [
    ['/a/b?c=d', '/a/b'],
    ['/a%20b', '/a%20b'],
    ['/a#b?c', '/a'],
    ['/?', '/'],
    ['http://host/a/b?q', '/a/b'],
    ['http://host', '/'],
    ['http://user@host:80/x', '/x'],
    ['//host/x', '//host/x'],
    ['*', ''],
    ['host:80', ''],
    ['', ''],
  ];
  for (const [url, expected] of table) {
    it(`should give ${JSON.stringify(expected)} for ${JSON.stringify(url)}`, () => {
      assert.equal(urlPathname(url), expected);
    });
  }
});

describe('redirectLocation', () => {
  const table: Array<[string, string]> = [
    ['/dir', '/dir/'],
    ['/a/dir?x=1&y=2', '/a/dir/?x=1&y=2'],
    ['/dir#frag', '/dir/'],
    ['/dir?x#frag', '/dir/?x'],
    ['/dir%20name', '/dir%20name/'],
    ['/caf\u00e9', '/caf%C3%A9/'],
    ['/100%', '/100%25/'],
    ['/a b', '/a%20b/'],
    ['/a"<>', '/a%22%3C%3E/'],
    ['/dir?q=<script>', '/dir/?q=%3Cscript%3E'],
    // Never a network-path reference, never a foreign host.
    ['//evil.com', '/evil.com/'],
    ['///evil.com/x', '/evil.com/x/'],
    ['//evil.com?x', '/evil.com/?x'],
    ['/\\evil.com', '/%5Cevil.com/'],
    ['/\\\\evil.com', '/%5C%5Cevil.com/'],
    ['http://evil.com/dir?x', '/dir/?x'],
    ['http://evil.com', '/'],
    ['http://evil.com//other.com', '/other.com/'],
    ['/%2F%2Fevil.com', '/%2F%2Fevil.com/'],
    ['/\ud800x', '/%EF%BF%BDx/'],
    ['*', '/'],
  ];
  for (const [url, expected] of table) {
    it(`should give ${JSON.stringify(expected)} for ${JSON.stringify(url)}`, () => {
      const location = redirectLocation(url);
      assert.equal(location, expected);
      assert.ok(!location.startsWith('//') && !/^[a-z][a-z0-9+.-]*:/i.test(location), location);
    });
  }
});
