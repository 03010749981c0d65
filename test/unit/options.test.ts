import { strict as assert } from 'node:assert';
import { parseDuration, resolveOptions, type SluiceOptions } from '../../server/src/options';

describe('parseDuration', () => {
  const table: Array<[string, number]> = [
    ['500', 500],
    ['1.5s', 1500],
    ['1d', 86_400_000],
    ['30d', 30 * 86_400_000],
    ['2 hours', 7_200_000],
    ['1h', 3_600_000],
    ['1 Minute', 60_000],
    ['10ms', 10],
    ['.5s', 500],
    ['-1s', -1000],
    ['1y', 31_557_600_000],
    ['1w', 604_800_000],
    ['', NaN],
    ['soon', NaN],
    ['1 fortnight', NaN],
    [' 1d', NaN],
    ['1d ', NaN],
    ['1'.repeat(101), NaN],
  ];
  for (const [input, expected] of table) {
    it(`should read ${JSON.stringify(input.length > 20 ? `${input.slice(0, 10)}…` : input)} as ${expected}`, () => {
      assert.ok(Object.is(parseDuration(input), expected), String(parseDuration(input)));
    });
  }
});

describe('resolveOptions', () => {
  describe('defaults', () => {
    it("should take serve-static's defaults", () => {
      const o = resolveOptions();
      assert.deepEqual(
        {
          acceptRanges: o.acceptRanges,
          cacheControl: o.cacheControl,
          dotfiles: o.dotfiles,
          etag: o.etag,
          extensions: o.extensions,
          fallthrough: o.fallthrough,
          immutable: o.immutable,
          index: o.index,
          lastModified: o.lastModified,
          maxAge: o.maxAge,
          redirect: o.redirect,
          setHeaders: o.setHeaders,
        },
        {
          acceptRanges: true,
          cacheControl: true,
          dotfiles: 'ignore',
          etag: true,
          extensions: [],
          fallthrough: true,
          immutable: false,
          index: ['index.html'],
          lastModified: true,
          maxAge: 0,
          redirect: true,
          setHeaders: null,
        },
      );
    });

    it('should default the additions: engine auto, 50 ranges, every coding, follow links', () => {
      const o = resolveOptions({});
      assert.equal(o.engine, 'auto');
      assert.equal(o.maxRanges, 50);
      assert.deepEqual(o.precompressed, ['br', 'zstd', 'gzip']);
      assert.equal(o.symlinks, 'follow');
    });

    it('should accept null as serve-static does', () => {
      assert.deepEqual(resolveOptions(null), resolveOptions({}));
    });
  });

  describe('normalising', () => {
    const table: Array<[string, SluiceOptions, (o: ReturnType<typeof resolveOptions>) => unknown, unknown]> = [
      ['a string extension', { extensions: 'html' }, (o) => o.extensions, ['html']],
      ['extensions: false', { extensions: false }, (o) => o.extensions, []],
      ['a string index', { index: 'default.htm' }, (o) => o.index, ['default.htm']],
      ['index: false', { index: false }, (o) => o.index, []],
      ['maxAge in ms', { maxAge: 1500 }, (o) => o.maxAge, 1500],
      ['maxAge as a string', { maxAge: '2h' }, (o) => o.maxAge, 7_200_000],
      ['an unreadable maxAge', { maxAge: 'later' }, (o) => o.maxAge, 0],
      ['a negative maxAge', { maxAge: -5 }, (o) => o.maxAge, 0],
      ['an infinite maxAge', { maxAge: Infinity }, (o) => o.maxAge, 365 * 86_400_000],
      ['the maxage alias', { maxage: '1s' }, (o) => o.maxAge, 1000],
      ['fallthrough: 0 (only false turns it off)', { fallthrough: 0 as unknown as boolean }, (o) => o.fallthrough, true],
      ['fallthrough: false', { fallthrough: false }, (o) => o.fallthrough, false],
      ['redirect: null (only false turns it off)', { redirect: null as unknown as boolean }, (o) => o.redirect, true],
      ['etag: 0 (coerced)', { etag: 0 as unknown as boolean }, (o) => o.etag, false],
      ['precompressed: false', { precompressed: false }, (o) => o.precompressed, []],
      ['precompressed as a list', { precompressed: ['gzip', 'br', 'gzip'] }, (o) => o.precompressed, ['gzip', 'br']],
    ];
    for (const [what, input, pick, expected] of table) {
      it(`should normalise ${what}`, () => {
        assert.deepEqual(pick(resolveOptions(input)), expected);
      });
    }
  });

  describe('refusing', () => {
    const table: Array<[string, unknown, RegExp]> = [
      ['a non-function setHeaders', { setHeaders: 3 }, /^option setHeaders must be function$/],
      ['a non-string extension', { extensions: [1] }, /^extensions option must be array of strings or false$/],
      ['index: true', { index: true }, /^index option must be array of strings or false$/],
      ['an unknown dotfiles policy', { dotfiles: 'hide' }, /^dotfiles option must be "allow", "deny", or "ignore"$/],
      ['an unknown engine', { engine: 'warp' }, /"engine" option/],
      ['an unknown coding', { precompressed: ['compress'] }, /"precompressed" option/],
      ['precompressed as a string', { precompressed: 'br' }, /"precompressed" option/],
      ['an unknown symlink policy', { symlinks: 'maybe' }, /"symlinks" option/],
      ['a fractional maxRanges', { maxRanges: 1.5 }, /"maxRanges" option/],
      ['a zero maxChunk', { maxChunk: 0 }, /"maxChunk" option/],
      ['a maxChunk below a page', { maxChunk: 4095 }, /"maxChunk" option must be at least 4096/],
      ['a negative smallFileMax', { smallFileMax: -1 }, /"smallFileMax" option must be an integer from 0 to 1048576/],
      ['a smallFileMax over 1 MiB', { smallFileMax: 1024 * 1024 + 1 }, /"smallFileMax" option must be an integer from 0 to 1048576/],
      ['options that are not an object', 'fast', /"options" argument/],
    ];
    for (const [what, input, message] of table) {
      it(`should throw a TypeError for ${what}`, () => {
        assert.throws(
          () => resolveOptions(input as SluiceOptions),
          (err: Error & { code?: string }) => {
            assert.equal(err.name, 'TypeError');
            assert.match(err.message, message);
            assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
            return true;
          },
        );
      });
    }
  });
});
