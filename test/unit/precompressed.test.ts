import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContentCoding } from '../../server/src/negotiate';
import { FRESH_MS, SUFFIX, VariantIndex, type Variants } from '../../server/src/precompressed';
import { scratchDir } from '../helpers/fixtures';

const ALL: ContentCoding[] = ['br', 'zstd', 'gzip'];

/** Variants as the index would have found them on disk. */
function present(codings: ContentCoding[], order: ContentCoding[] = ALL): Variants {
  let mask = 0;
  order.forEach((c, i) => {
    if (codings.includes(c)) mask |= 1 << i;
  });
  return { codings: order.filter((c) => codings.includes(c)), mask, seenAt: Date.now() };
}

describe('VariantIndex', () => {
  describe('choose', () => {
    const index = new VariantIndex(ALL);
    const table: Array<[string | undefined, ContentCoding[], ContentCoding | null]> = [
      [undefined, ALL, null],
      ['', ALL, null],
      ['gzip', ALL, 'gzip'],
      ['gzip, deflate, br, zstd', ALL, 'br'],
      ['gzip, deflate, br, zstd', ['zstd', 'gzip'], 'zstd'],
      ['br', ['gzip'], null],
      ['br;q=0.1, gzip;q=0.2', ALL, 'gzip'],
      ['gzip;q=0', ['gzip'], null],
      ['identity;q=1, gzip;q=0.5', ['gzip'], null],
      ['*', ['gzip', 'zstd'], 'zstd'],
      ['*;q=0', ALL, null],
      ['deflate, identity;q=0', ALL, null],
      ['gzip', [], null],
    ];
    for (const [header, codings, expected] of table) {
      it(`should choose ${expected} for ${JSON.stringify(header)} with [${codings.join(', ')}] on disk`, () => {
        assert.equal(index.choose(header, present(codings)), expected);
        // Asked again: the memo must agree with the first answer.
        assert.equal(index.choose(header, present(codings)), expected);
      });
    }

    it('should use the configured order on ties', () => {
      const order: ContentCoding[] = ['gzip', 'br'];
      const own = new VariantIndex(order);
      assert.equal(own.choose('br, gzip', present(['gzip', 'br'], order)), 'gzip');
    });

    it('should stay bounded under many distinct headers', () => {
      const own = new VariantIndex(ALL);
      for (let i = 0; i < 5000; i++) own.choose(`gzip;q=0.${i % 999}, x-${i}`, present(ALL));
      assert.equal(own.choose('br', present(ALL)), 'br');
    });
  });

  describe('probe and lookup', () => {
    it('should find the variants present on disk, in preference order', (done) => {
      const dir = scratchDir();
      const file = path.join(dir, 'a.js');
      fs.writeFileSync(file, 'x');
      fs.writeFileSync(file + SUFFIX.gzip, 'g');
      fs.writeFileSync(file + SUFFIX.br, 'b');
      fs.mkdirSync(file + SUFFIX.zstd); // a directory is not a variant
      const index = new VariantIndex(ALL);
      assert.equal(index.lookup(file, Date.now()), undefined);
      let calls = 0;
      const check = (v: Variants): void => {
        assert.deepEqual(v.codings, ['br', 'gzip']);
        if (++calls === 2) {
          assert.deepEqual(index.lookup(file, Date.now())?.codings, ['br', 'gzip']);
          assert.equal(index.lookup(file, Date.now() + FRESH_MS), undefined, 'stale after FRESH_MS');
          index.forget(file);
          assert.equal(index.lookup(file, Date.now()), undefined);
          done();
        }
      };
      // Two concurrent probes share one.
      index.probe(file, check);
      index.probe(file, check);
    });

    it('should report no variants for a file without any', (done) => {
      const dir = scratchDir();
      const index = new VariantIndex(ALL);
      index.probe(path.join(dir, 'none.css'), (v) => {
        assert.deepEqual(v.codings, []);
        assert.equal(v.mask, 0);
        done();
      });
    });

    it('should look for nothing when disabled', () => {
      assert.equal(new VariantIndex([]).enabled, false);
      assert.equal(new VariantIndex(['gzip']).enabled, true);
    });
  });
});
