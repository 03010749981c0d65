// Table tests of head.ts: the values every head carries (ETag, dates,
// Cache-Control, Vary) and the field lists kept per file version.
import { strict as assert } from 'node:assert';
import type { FileVersion } from '../../server/src/file-table';
import { fakeVersion } from '../helpers/file-version';
import {
  cacheControlValue,
  contentRange,
  contentTypeFor,
  HeadCache,
  httpDate,
  representationOf,
  typeOf,
  varyWithAcceptEncoding,
  weakEtag,
  type HeadPolicy,
} from '../../server/src/head';

function version(p = '/srv/app.js', size = 1000, mtimeMs = 1_700_000_000_123.6): FileVersion {
  return fakeVersion(p, size, mtimeMs);
}

const POLICY: HeadPolicy = {
  acceptRanges: true,
  cacheControl: 'public, max-age=0',
  contentType: true,
  lastModified: true,
  etag: true,
  strongEtag: false,
  extra: [],
};

/** [name, value, …] as "Name: value" lines, for readable failures. */
function lines(fields: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) out.push(`${fields[i]}: ${fields[i + 1]}`);
  return out;
}

describe('head (table)', () => {
  describe('weakEtag', () => {
    const table: [string, { size: number; mtimeMs: number }, string][] = [
      ['an empty file at the epoch', { size: 0, mtimeMs: 0 }, 'W/"0-0"'],
      ['size and mtime in hex', { size: 255, mtimeMs: 4096 }, 'W/"ff-1000"'],
      ['mtime rounded to the millisecond as Date does', { size: 1, mtimeMs: 10.5 }, 'W/"1-b"'],
      ['mtime rounded down below .5', { size: 1, mtimeMs: 10.49 }, 'W/"1-a"'],
    ];
    for (const [name, stat, want] of table) it(`should give ${want} for ${name}`, () => assert.equal(weakEtag(stat), want));
  });

  describe('cacheControlValue', () => {
    const table: [number, boolean, string][] = [
      [0, false, 'public, max-age=0'],
      [999, false, 'public, max-age=0'],
      [1000, false, 'public, max-age=1'],
      [86_400_000, true, 'public, max-age=86400, immutable'],
    ];
    for (const [ms, immutable, want] of table) it(`should give "${want}" for ${ms} ms`, () => assert.equal(cacheControlValue(ms, immutable), want));
  });

  describe('varyWithAcceptEncoding', () => {
    const table: [string, string | string[] | undefined, string | null][] = [
      ['nothing', undefined, 'Accept-Encoding'],
      ['an empty value', '', 'Accept-Encoding'],
      ['another field', 'Origin', 'Origin, Accept-Encoding'],
      ['a list of values', ['Origin', 'Cookie'], 'Origin, Cookie, Accept-Encoding'],
      ['Accept-Encoding already, any case', 'origin, accept-encoding', null],
      ['*', '*', null],
      ['a name that only contains it', 'X-Accept-Encoding-Hint', 'X-Accept-Encoding-Hint, Accept-Encoding'],
    ];
    for (const [name, current, want] of table) it(`should give ${JSON.stringify(want)} for ${name}`, () => assert.equal(varyWithAcceptEncoding(current), want));
  });

  it('should write dates and ranges as HTTP does', () => {
    assert.equal(httpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
    assert.equal(contentRange(0, 9, 100), 'bytes 0-9/100');
  });

  describe('types', () => {
    const table: [string, string][] = [
      ['/a/app.js', 'text/javascript; charset=utf-8'],
      ['/a/index.html', 'text/html; charset=utf-8'],
      ['/a/image.PNG', 'image/png'],
      ['/a/no-extension', 'application/octet-stream'],
    ];
    for (const [p, want] of table) it(`should type ${p} as ${want}`, () => assert.equal(contentTypeFor(p), want));

    it('should let an override replace or add a type, by lower-case extension', () => {
      const overrides = new Map([
        ['js', 'text/javascript'],
        ['wasm2', 'application/x-wasm2'],
      ]);
      assert.equal(typeOf(version('/a/APP.JS'), overrides), 'text/javascript');
      assert.equal(typeOf(version('/a/m.wasm2'), overrides), 'application/x-wasm2');
      assert.equal(typeOf(version('/a/page.html'), overrides), 'text/html; charset=utf-8');
    });
  });

  describe('representationOf', () => {
    it("should name a variant's coding in its ETag and validate it by the source", () => {
      const original = version('/srv/app.js', 1000, 5000);
      const variant = version('/srv/app.js.gz', 300, 9000);
      const rep = representationOf(original, variant, 'gzip', true, original);
      assert.equal(rep.etag, 'W/"3e8-1388-gzip"');
      assert.equal(rep.lastModifiedMs, 5000);
      assert.equal(rep.type, 'text/javascript; charset=utf-8');
    });

    it('should use a strong ETag when asked and one is known', () => {
      const v = version();
      v.strongEtag = '"sha1"';
      assert.equal(representationOf(v, v, null, false, v, true).etag, '"sha1"');
      assert.equal(representationOf(v, v, 'br', true, v, true).etag, '"sha1-br"');
    });
  });

  describe('HeadCache lists', () => {
    const table: { name: string; policy?: Partial<HeadPolicy>; coding?: 'gzip'; vary?: boolean; whole: string[] }[] = [
      {
        name: 'the default policy',
        whole: [
          'Accept-Ranges: bytes',
          'Cache-Control: public, max-age=0',
          'Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT',
          'ETag: W/"3e8-18bcfe5687c"',
          'Content-Type: text/javascript; charset=utf-8',
          'Content-Length: 1000',
        ],
      },
      {
        name: 'no ranges, no caching fields',
        policy: { acceptRanges: false, cacheControl: null, lastModified: false, etag: false },
        whole: ['Content-Type: text/javascript; charset=utf-8', 'Content-Length: 1000'],
      },
      {
        name: 'a variant',
        policy: { acceptRanges: false, cacheControl: null, lastModified: false, etag: false },
        coding: 'gzip',
        vary: true,
        whole: ['Content-Type: text/javascript; charset=utf-8', 'Vary: Accept-Encoding', 'Content-Encoding: gzip', 'Content-Length: 1000'],
      },
      {
        name: 'an extra field replacing ours, and an extra Vary joined with Accept-Encoding',
        policy: {
          acceptRanges: false,
          cacheControl: 'public, max-age=0',
          lastModified: false,
          etag: false,
          extra: ['Cache-Control', 'no-store', 'Vary', 'Origin'],
        },
        vary: true,
        whole: ['Cache-Control: no-store', 'Vary: Origin, Accept-Encoding', 'Content-Type: text/javascript; charset=utf-8', 'Content-Length: 1000'],
      },
    ];
    for (const c of table) {
      it(`should list the fields of ${c.name}`, () => {
        const v = version('/srv/app.js', 1000, 1_700_000_000_124);
        const rep = representationOf(v, v, c.coding ?? null, c.vary ?? false);
        const lists = new HeadCache({ ...POLICY, ...c.policy }).lists(rep);
        assert.deepEqual(lines(lists.whole), c.whole);
        assert.deepEqual(lists.partial, lists.whole.slice(0, -2));
        assert.ok(!lines(lists.notModified).some((l) => /^Content-/.test(l)), '304 lists carry no content metadata');
      });
    }

    it('should keep lists per policy on the version, and reuse them', () => {
      const v = version();
      const rep = representationOf(v, v, null, false);
      const a = new HeadCache(POLICY);
      const b = new HeadCache({ ...POLICY, etag: false });
      assert.equal(a.lists(rep), new HeadCache(POLICY).lists(rep));
      assert.notEqual(a.lists(rep), b.lists(rep));
      assert.equal(v.heads.size, 2);
    });
  });
});
