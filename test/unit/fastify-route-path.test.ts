// Which file a request names under Fastify (server/src/fastify/route-path.ts):
// prefix matching with route parameters, decoding as @fastify/static
// decodes, the refusal of ".." segments, and the slash-form redirect.
import { strict as assert } from 'node:assert';
import { errors } from '../../server/src/fastify/errors';
import { withAcceptEncoding } from '../../server/src/fastify/reply';
import { prefixMatcher, routeTarget, slashRedirect, type RouteTarget } from '../../server/src/fastify/route-path';

/** @fastify/static's own error classes (its types do not declare them). */
type ErrorClass = new (...args: unknown[]) => Error;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const staticErrors = (require('@fastify/static') as { errors: Record<string, ErrorClass> }).errors;

describe('fastify route paths', () => {
  describe('routeTarget', () => {
    const cases: Array<[string, string, RouteTarget]> = [
      ['/*', '/index.html', { kind: 'path', pathname: '/index.html' }],
      ['/*', '/a%20.md?x=1', { kind: 'path', pathname: '/a .md' }],
      ['/static/*', '/static/', { kind: 'path', pathname: '/' }],
      ['/static*', '/static', { kind: 'path', pathname: '/' }],
      ['/static*', '/staticfile.txt', { kind: 'path', pathname: '/file.txt' }],
      ['/static/*', '/nested/static/index.css', { kind: 'not-found' }],
      ['/app/:version/*', '/app/1.2.3/index.css', { kind: 'path', pathname: '/index.css' }],
      ['/app/:version/*', '/app//index.css', { kind: 'not-found' }],
      ['/app/:version/public/*', '/app/1.2.3/private/index.css', { kind: 'not-found' }],
      ['/app/:version/*', '/app/1.2.3/%E0%A4%A', { kind: 'not-found' }],
      // An encoded slash stays part of the name: it can never become a separator.
      ['/*', '/deep%2Fsecret', { kind: 'path', pathname: '/deep%2Fsecret' }],
      ['/*', '/foo/../deep/secret', { kind: 'forbidden' }],
      ['/*', '/foo/%2e%2e/deep/secret', { kind: 'forbidden' }],
      ['/*', '/foo/%2E%2E/deep/secret', { kind: 'forbidden' }],
      ['/*', '/foo\\..\\deep', { kind: 'forbidden' }],
      ['/*', '/../index.html', { kind: 'forbidden' }],
      // A parameter that swallows ".." still refuses the whole path.
      ['/app/:version/*', '/app/../deep/secret', { kind: 'forbidden' }],
      ['/*', '/a..b/c.', { kind: 'path', pathname: '/a..b/c.' }],
    ];
    for (const [route, url, expected] of cases) {
      it(`should read ${url} under ${route} as ${expected.kind}`, () => {
        assert.deepEqual(routeTarget(url, prefixMatcher(route)), expected);
      });
    }
  });

  describe('slashRedirect', () => {
    const cases: Array<[string, string]> = [
      ['/static?a=b', '/static/?a=b'],
      ['/deep/path/for/test/.', '/deep/path/for/test/'],
      ['//evil.com/x', '/evil.com/x/'],
      ['/\\\\evil.com', '/evil.com/'],
    ];
    for (const [url, location] of cases) {
      it(`should send ${url} to ${location}`, () => assert.equal(slashRedirect(url), location));
    }
  });

  describe('withAcceptEncoding', () => {
    it('should append accept-encoding to Vary once, and leave Vary: * alone', () => {
      assert.equal(withAcceptEncoding(undefined), 'accept-encoding');
      assert.equal(withAcceptEncoding('Accept-Language'), 'Accept-Language, accept-encoding');
      assert.equal(withAcceptEncoding(['Accept-Language', 'Cookie']), 'Accept-Language, Cookie, accept-encoding');
      assert.equal(withAcceptEncoding('Origin, Accept-Encoding'), null);
      assert.equal(withAcceptEncoding('*'), null);
    });
  });

  describe('errors', () => {
    it("should carry @fastify/static's codes, messages and status, and pass its instanceof checks", () => {
      const err = new errors.FST_STATIC_INVALID_OPTION_VALUE('list.format', 'must be json or html');
      assert.ok(err instanceof TypeError);
      assert.equal(err.code, 'FST_STATIC_INVALID_OPTION_VALUE');
      assert.equal(err.name, 'FastifyError');
      assert.equal(err.statusCode, 500);
      assert.equal(err.message, '"list.format" option must be json or html');
      assert.ok(err instanceof staticErrors.FST_STATIC_INVALID_OPTION_VALUE);
      assert.ok(!(err instanceof staticErrors.FST_STATIC_INVALID_OPTION));
      assert.ok(new staticErrors.FST_STATIC_INVALID_OPTION('root', 'is required') instanceof errors.FST_STATIC_INVALID_OPTION);
    });
  });
});
