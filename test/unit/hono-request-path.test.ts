// sluice/hono's reading of the request before any file is looked at, as
// @hono/node-server's serveStatic reads it: which paths may name a file,
// and the Range header it acts on, as sluice must then read it.
import { strict as assert } from 'node:assert';
import { lenientRange, requestFileName, tryDecodeURI } from '../../server/src/hono/request-path';

describe('sluice/hono request paths', () => {
  it('should decode with decodeURI, keeping reserved escapes and undecodable runs', () => {
    assert.equal(tryDecodeURI('/a%20b.txt'), '/a b.txt');
    assert.equal(tryDecodeURI('/admin%2Fsecret.txt'), '/admin%2Fsecret.txt');
    assert.equal(tryDecodeURI('/%c0%afsecret%20x.txt'), '/%c0%afsecret x.txt');
  });

  it('should refuse dot segments, doubled slashes and backslashes', () => {
    for (const p of [
      '/static/../secret.txt',
      '/static/./a',
      '/static//admin/secret.txt',
      '/static/..\\..\\package.json',
      '/static/admin%5Csecret.txt',
      '/static/%2e%2e/x',
    ]) {
      assert.equal(requestFileName(p), null, p);
    }
    assert.equal(requestFileName('/static/foo..bar.txt'), '/static/foo..bar.txt');
    assert.equal(requestFileName('/static/.well-known/x'), '/static/.well-known/x');
  });
});

describe('sluice/hono lenient Range', () => {
  const cases: Array<[string, string]> = [
    ['bytes=0-9', 'bytes=0-9'],
    ['0-9', 'bytes=0-9'],
    ['bytes=-5', 'bytes=-5'],
    ['bytes=10-', 'bytes=10-'],
    ['bytes=0-9,20-29', 'bytes=0-9,20-29'],
    ['bytes=0-9, -3', 'bytes=0-9, -3'],
    ['hello', 'bytes=0-'],
    ['bytes=0-1x', 'bytes=0-'],
    ['bytes=x-1', 'bytes=0-'],
    ['bytes=0-1-2', 'bytes=0-'],
    ['bytes=-5-extra', 'bytes=0-'],
    ['bytes=-', 'bytes=0-'],
    ['items=0-9', 'bytes=0-'],
  ];
  for (const [value, read] of cases) {
    it(`should read ${JSON.stringify(value)} as ${JSON.stringify(read)}`, () => {
      assert.equal(lenientRange(value), read);
    });
  }

  it('should make an inverted range select nothing (a 416)', () => {
    assert.equal(lenientRange('bytes=10-5'), `bytes=${Number.MAX_SAFE_INTEGER}-`);
  });
});
