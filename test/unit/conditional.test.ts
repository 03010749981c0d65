import { strict as assert } from 'node:assert';
import type { IncomingHttpHeaders } from 'node:http';
import { evaluatePreconditions, hasNoCache, isEtagInList, isRangeFresh, parseHttpDate, type Precondition, type Validators } from '../../server/src/conditional';

// Last-Modified with a sub-second part, as fs.stat gives it: compared as 12:00:00.
const MTIME = Date.UTC(2024, 0, 15, 12, 0, 0, 750);
const AT = 'Mon, 15 Jan 2024 12:00:00 GMT';
const BEFORE = 'Mon, 15 Jan 2024 11:59:59 GMT';
const AFTER = 'Mon, 15 Jan 2024 12:00:01 GMT';

const STRONG: Validators = { etag: '"abc"', lastModified: MTIME };
const WEAK: Validators = { etag: 'W/"abc"', lastModified: MTIME };
const NO_VALIDATORS: Validators = {};

interface Case {
  name: string;
  method?: string;
  headers: IncomingHttpHeaders;
  v?: Validators;
  expected: Precondition;
}

function runTable(table: Case[]): void {
  for (const { name, method = 'GET', headers, v = STRONG, expected } of table) {
    it(`should be ${expected} ${name}`, () => {
      assert.equal(evaluatePreconditions(method, headers, v), expected);
    });
  }
}

describe('evaluatePreconditions', () => {
  describe('without conditional headers', () => {
    runTable([
      { name: 'for a plain GET', headers: {}, expected: 'ok' },
      { name: 'for a plain PUT', method: 'PUT', headers: {}, expected: 'ok' },
      { name: 'with no validators', headers: {}, v: NO_VALIDATORS, expected: 'ok' },
      { name: 'with blank headers', headers: { 'if-match': ' ', 'if-none-match': '' }, expected: 'ok' },
    ]);
  });

  describe('when if-match present', () => {
    runTable([
      { name: 'when the etag matches', headers: { 'if-match': '"abc"' }, expected: 'ok' },
      { name: 'when the etag is in a list', headers: { 'if-match': '"x", "abc" ,"y"' }, expected: 'ok' },
      { name: 'when the etag differs', headers: { 'if-match': '"xyz"' }, expected: 'precondition-failed' },
      { name: 'for *', headers: { 'if-match': '*' }, expected: 'ok' },
      { name: 'for * without an etag', headers: { 'if-match': ' * ' }, v: NO_VALIDATORS, expected: 'ok' },
      { name: 'without an etag', headers: { 'if-match': '"abc"' }, v: NO_VALIDATORS, expected: 'precondition-failed' },
      // Weak comparison, as send does: our own (weak) ETags must match.
      { name: 'for a weak request tag', headers: { 'if-match': 'W/"abc"' }, expected: 'ok' },
      { name: 'for a weak own tag', headers: { 'if-match': '"abc"' }, v: WEAK, expected: 'ok' },
      { name: 'for a weak tag that differs', headers: { 'if-match': 'W/"xyz"' }, v: WEAK, expected: 'precondition-failed' },
      { name: 'for an unquoted tag', headers: { 'if-match': 'abc' }, expected: 'precondition-failed' },
      {
        name: 'even when If-Unmodified-Since would fail (it is not evaluated)',
        headers: { 'if-match': '"abc"', 'if-unmodified-since': BEFORE },
        expected: 'ok',
      },
      {
        name: 'before If-None-Match is looked at',
        headers: { 'if-match': '"nope"', 'if-none-match': '"abc"' },
        expected: 'precondition-failed',
      },
    ]);
  });

  describe('when if-unmodified-since present', () => {
    runTable([
      { name: 'when unmodified since the date', headers: { 'if-unmodified-since': AT }, expected: 'ok' },
      { name: 'for a later date', headers: { 'if-unmodified-since': AFTER }, expected: 'ok' },
      {
        name: 'when modified after the date',
        headers: { 'if-unmodified-since': BEFORE },
        expected: 'precondition-failed',
      },
      { name: 'for an invalid date', headers: { 'if-unmodified-since': 'yesterday' }, expected: 'ok' },
      { name: 'without Last-Modified', headers: { 'if-unmodified-since': BEFORE }, v: NO_VALIDATORS, expected: 'ok' },
      {
        name: 'for a PUT modified after the date',
        method: 'PUT',
        headers: { 'if-unmodified-since': BEFORE },
        expected: 'precondition-failed',
      },
    ]);
  });

  describe('when if-none-match present', () => {
    runTable([
      { name: 'for a GET that matches', headers: { 'if-none-match': '"abc"' }, expected: 'not-modified' },
      { name: 'for a HEAD that matches', method: 'HEAD', headers: { 'if-none-match': '"abc"' }, expected: 'not-modified' },
      { name: 'for a weak request tag', headers: { 'if-none-match': 'W/"abc"' }, expected: 'not-modified' },
      { name: 'for a weak own tag', headers: { 'if-none-match': '"abc"' }, v: WEAK, expected: 'not-modified' },
      { name: 'for a list', headers: { 'if-none-match': '"a",\tW/"abc" , "b"' }, expected: 'not-modified' },
      { name: 'for a list without spaces', headers: { 'if-none-match': '"a","abc"' }, expected: 'not-modified' },
      { name: 'past a malformed member', headers: { 'if-none-match': 'junk, "abc"' }, expected: 'not-modified' },
      { name: 'for *', headers: { 'if-none-match': '*' }, expected: 'not-modified' },
      { name: 'when nothing matches', headers: { 'if-none-match': '"x", W/"y"' }, expected: 'ok' },
      { name: 'for a prefix of the tag', headers: { 'if-none-match': '"ab"' }, expected: 'ok' },
      { name: 'without an etag', headers: { 'if-none-match': '"abc"' }, v: NO_VALIDATORS, expected: 'ok' },
      { name: 'for a PUT that matches', method: 'PUT', headers: { 'if-none-match': '"abc"' }, expected: 'precondition-failed' },
      { name: 'for a POST and *', method: 'POST', headers: { 'if-none-match': '*' }, expected: 'precondition-failed' },
      {
        name: 'ignoring If-Modified-Since when it does not match',
        headers: { 'if-none-match': '"x"', 'if-modified-since': AFTER },
        expected: 'ok',
      },
      {
        name: 'ignoring If-Modified-Since when it matches',
        headers: { 'if-none-match': '"abc"', 'if-modified-since': BEFORE },
        expected: 'not-modified',
      },
      {
        name: 'after If-Match passed',
        headers: { 'if-match': '"abc"', 'if-none-match': '"abc"' },
        expected: 'not-modified',
      },
    ]);
  });

  describe('when if-modified-since present', () => {
    runTable([
      { name: 'for the same second', headers: { 'if-modified-since': AT }, expected: 'not-modified' },
      { name: 'for a later date', headers: { 'if-modified-since': AFTER }, expected: 'not-modified' },
      { name: 'for an earlier date', headers: { 'if-modified-since': BEFORE }, expected: 'ok' },
      { name: 'for an invalid date', headers: { 'if-modified-since': 'not a date' }, expected: 'ok' },
      { name: 'for a non-HTTP date format', headers: { 'if-modified-since': '2030-01-01' }, expected: 'ok' },
      { name: 'without Last-Modified', headers: { 'if-modified-since': AFTER }, v: NO_VALIDATORS, expected: 'ok' },
      { name: 'for a PUT', method: 'PUT', headers: { 'if-modified-since': AFTER }, expected: 'ok' },
      { name: 'for an RFC 850 date', headers: { 'if-modified-since': 'Monday, 15-Jan-24 12:00:00 GMT' }, expected: 'not-modified' },
      { name: 'for an asctime date', headers: { 'if-modified-since': 'Mon Jan 15 12:00:00 2024' }, expected: 'not-modified' },
    ]);
  });

  describe('when cache-control: no-cache present', () => {
    runTable([
      { name: 'for a matching etag', headers: { 'if-none-match': '"abc"', 'cache-control': 'no-cache' }, expected: 'ok' },
      { name: 'for a fresh date', headers: { 'if-modified-since': AT, 'cache-control': 'max-age=0, no-cache' }, expected: 'ok' },
      { name: 'in any case', headers: { 'if-none-match': '"abc"', 'cache-control': 'No-Cache' }, expected: 'ok' },
      {
        name: 'for other directives',
        headers: { 'if-none-match': '"abc"', 'cache-control': 'max-age=0' },
        expected: 'not-modified',
      },
      {
        name: 'for a directive that only contains it',
        headers: { 'if-none-match': '"abc"', 'cache-control': 'no-cache-please' },
        expected: 'not-modified',
      },
      // no-cache only turns 304 into 200; a failed precondition still fails.
      {
        name: 'for a PUT that matches',
        method: 'PUT',
        headers: { 'if-none-match': '"abc"', 'cache-control': 'no-cache' },
        expected: 'precondition-failed',
      },
      {
        name: 'for a failed If-Match',
        headers: { 'if-match': '"x"', 'cache-control': 'no-cache' },
        expected: 'precondition-failed',
      },
    ]);
  });
});

describe('isRangeFresh', () => {
  const table: Array<{ ifRange: string | undefined; v?: Validators; expected: boolean }> = [
    { ifRange: undefined, expected: true },
    { ifRange: '', expected: true },
    { ifRange: '  ', expected: true },
    { ifRange: '"abc"', expected: true },
    { ifRange: ' "abc" ', expected: true },
    { ifRange: '"xyz"', expected: false },
    { ifRange: '"abc"', v: NO_VALIDATORS, expected: false },
    // Weak comparison (send's): the weak ETag we issued resumes a download.
    { ifRange: 'W/"abc"', expected: true },
    { ifRange: '"abc"', v: WEAK, expected: true },
    { ifRange: 'W/"abc"', v: WEAK, expected: true },
    { ifRange: 'W/"xyz"', v: WEAK, expected: false },
    { ifRange: '"abc", "xyz"', expected: false },
    { ifRange: '"abc', expected: false },
    { ifRange: AT, expected: true },
    { ifRange: AFTER, expected: true },
    { ifRange: BEFORE, expected: false },
    { ifRange: AT, v: NO_VALIDATORS, expected: false },
    { ifRange: 'garbage', expected: false },
    { ifRange: '1705320000000', expected: false },
  ];
  for (const { ifRange, v = STRONG, expected } of table) {
    it(`should be ${expected} for If-Range ${JSON.stringify(ifRange)} and ETag ${v.etag ?? 'none'}`, () => {
      assert.equal(isRangeFresh(ifRange, v), expected);
    });
  }
});

describe('isEtagInList', () => {
  const table: Array<[list: string, etag: string | undefined, weak: boolean, expected: boolean]> = [
    ['"a"', '"a"', false, true],
    ['"a"', '"a"', true, true],
    ['W/"a"', '"a"', true, true],
    ['W/"a"', '"a"', false, false],
    ['"a"', 'W/"a"', false, false],
    ['"a"', 'W/"a"', true, true],
    ['"x,y", "a"', '"a"', false, true],
    ['"x,y"', '"x,y"', false, true],
    ['"x', '"x', false, false],
    ['', '"a"', true, false],
    [',,, ,', '"a"', true, false],
    ['*', '"a"', true, false],
    ['"a"', undefined, true, false],
    ['"a"', 'a', true, false],
    ['"a b"', '"a b"', true, false],
    ['w/"a"', '"a"', true, false],
    ['"\u00e9"', '"\u00e9"', true, true],
    ['"\u20ac"', '"\u20ac"', true, false],
  ];
  for (const [list, etag, weak, expected] of table) {
    it(`should be ${expected} for ${JSON.stringify(etag)} in ${JSON.stringify(list)} (${weak ? 'weak' : 'strong'})`, () => {
      assert.equal(isEtagInList(list, etag, weak), expected);
    });
  }

  it('should not throw on a long hostile list', () => {
    const list = 'W/"'.repeat(5000) + ',"'.repeat(5000);
    assert.equal(isEtagInList(list, '"a"', true), false);
  });
});

describe('hasNoCache', () => {
  const table: Array<[IncomingHttpHeaders, boolean]> = [
    [{}, false],
    [{ 'cache-control': 'no-cache' }, true],
    [{ 'cache-control': 'public,no-cache' }, true],
    [{ 'cache-control': 'no-store' }, false],
    [{ 'cache-control': 'x-no-cache' }, false],
  ];
  for (const [headers, expected] of table) {
    it(`should be ${expected} for ${JSON.stringify(headers)}`, () => {
      assert.equal(hasNoCache(headers), expected);
    });
  }
});

describe('parseHttpDate', () => {
  const at = Date.UTC(1994, 10, 6, 8, 49, 37);
  const table: Array<[string, number]> = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', at],
    ['Sunday, 06-Nov-94 08:49:37 GMT', at],
    ['Sun Nov  6 08:49:37 1994', at],
    ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ['Sat, 29 Feb 2020 00:00:00 GMT', Date.UTC(2020, 1, 29)],
    ['Sun, 06 Nov 1994 08:49:37 UTC', NaN],
    ['sun, 06 nov 1994 08:49:37 gmt', NaN],
    ['Sun, 6 Nov 1994 08:49:37 GMT', NaN],
    ['Sun, 31 Nov 1994 08:49:37 GMT', NaN],
    ['Fri, 29 Feb 2019 00:00:00 GMT', NaN],
    ['Sun, 06 Nov 1994 24:00:00 GMT', NaN],
    ['Sun, 06 Nov 1994 08:60:00 GMT', NaN],
    ['Sun, 06 Foo 1994 08:49:37 GMT', NaN],
    ['1994-11-06T08:49:37Z', NaN],
    ['', NaN],
  ];
  for (const [input, expected] of table) {
    it(`should parse ${JSON.stringify(input)} as ${Number.isNaN(expected) ? 'invalid' : new Date(expected).toISOString()}`, () => {
      assert.equal(parseHttpDate(input), expected);
    });
  }

  it('should read a two-digit RFC 850 year as at most 50 years ahead', () => {
    const year = new Date().getUTCFullYear();
    const ahead = (year + 49) % 100;
    const behind = (year + 51) % 100;
    const two = (n: number): string => String(n).padStart(2, '0');
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${two(ahead)} 00:00:00 GMT`)).getUTCFullYear(), year + 49);
    assert.equal(new Date(parseHttpDate(`Monday, 01-Jan-${two(behind)} 00:00:00 GMT`)).getUTCFullYear(), year - 49);
  });
});
