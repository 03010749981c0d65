import { strict as assert } from 'node:assert';
import { checkServeConfig, optionsFromServeConfig, ServeConfigError } from '../../server/src/serve-config';
import { resolveOptions } from '../../server/src/options';

describe('checkServeConfig', () => {
  it('should take every key of serve’s schema, and serve-handler’s etag', () => {
    const config = {
      public: 'dist',
      cleanUrls: ['/blog/**'],
      rewrites: [{ source: '/a', destination: '/b' }],
      redirects: [{ source: '/old', destination: '/new', type: 302 }],
      headers: [{ source: '**', headers: [{ key: 'X-A', value: '1' }] }],
      directoryListing: false,
      unlisted: ['*.map'],
      trailingSlash: true,
      renderSingle: true,
      symlinks: true,
      etag: true,
    };
    assert.deepEqual(checkServeConfig(config, 'serve.json'), config);
  });

  // [config, key, message]
  const bad: Array<[unknown, string, RegExp]> = [
    [{ headers: [{ source: '**', headers: [{ key: 'X', value: 'a\nb' }] }] }, 'headers[0].headers[0].value', /must match pattern/],
    [{ headers: [] }, 'headers', /must NOT have fewer than 1 items/],
    [{ public: 3 }, 'public', /must be string/],
    [{ etag: 'yes' }, 'etag', /must be boolean/],
    [{ nope: 1 }, 'nope', /is not a serve\.json key/],
    [{ redirects: [{ source: '/a', destination: 3 }] }, 'redirects[0].destination', /must be a string/],
    [{ unlisted: [3] }, 'unlisted[0]', /must be a string/],
    [[], '', /must be a JSON object/],
  ];
  for (const [config, key, message] of bad) {
    it(`should refuse ${JSON.stringify(config)} naming ${key || 'the file'}`, () => {
      assert.throws(
        () => checkServeConfig(config, '/site/serve.json'),
        (err: unknown) => err instanceof ServeConfigError && err.key === key && err.file === '/site/serve.json' && message.test(err.message),
      );
    });
  }
});

describe('optionsFromServeConfig', () => {
  it('should keep serve’s defaults but list nothing unless asked', () => {
    const { root, options } = optionsFromServeConfig({ public: 'dist' }, '/srv/site');
    assert.equal(root, '/srv/site/dist');
    assert.deepEqual(options, { cleanUrls: true, listing: false, notFound: '404.html' });
    const resolved = resolveOptions(options);
    assert.equal(resolved.routed, true);
    assert.equal(resolved.listing, null);
  });

  it('should map symlinks: true to follow and directoryListing to listing', () => {
    const { options } = optionsFromServeConfig({ symlinks: true, directoryListing: ['/files/**'] }, '/srv');
    assert.equal(options.symlinks, 'follow');
    assert.deepEqual(options.listing, ['/files/**']);
  });
});

describe('resolveOptions for serve’s features', () => {
  it('should leave the plain path untouched when no rule is given', () => {
    const o = resolveOptions({});
    assert.equal(o.rules, null);
    assert.equal(o.routed, false);
    assert.equal(o.listing, null);
    assert.equal(o.single, false);
    assert.equal(o.cors, false);
  });

  it('should compile header rules without routing, and route with rewrites', () => {
    assert.equal(resolveOptions({ headers: [{ source: '**', headers: [{ key: 'X', value: '1' }] }] }).routed, false);
    assert.equal(resolveOptions({ rewrites: [{ source: '/a', destination: '/b' }] }).routed, true);
  });

  it('should refuse a notFound that is not a path', () => {
    assert.throws(() => resolveOptions({ notFound: '' }), /"notFound" option/);
    assert.throws(() => resolveOptions({ notFound: 3 as unknown as string }), /"notFound" option/);
  });
});
