import { strict as assert } from 'node:assert';
import { negotiateEncoding, type Encoding } from '../../server/src/negotiate';

const ALL: readonly Encoding[] = ['br', 'zstd', 'gzip', 'identity'];
const GZIP_ONLY: readonly Encoding[] = ['gzip', 'identity'];
const COMPRESSED_ONLY: readonly Encoding[] = ['br', 'gzip'];

interface Case {
  header: string | undefined;
  available?: readonly Encoding[];
  expected: Encoding | null;
}

function runTable(table: Case[]): void {
  for (const { header, available = ALL, expected } of table) {
    it(`should pick ${expected} for ${JSON.stringify(header)} from [${available.join(', ')}]`, () => {
      assert.equal(negotiateEncoding(header, available), expected);
    });
  }
}

describe('negotiateEncoding', () => {
  describe('without Accept-Encoding', () => {
    runTable([
      { header: undefined, expected: 'identity' },
      { header: '', expected: 'identity' },
      { header: '  ', expected: 'identity' },
      { header: undefined, available: COMPRESSED_ONLY, expected: null },
      { header: undefined, available: [], expected: null },
    ]);
  });

  describe('with plain codings', () => {
    runTable([
      { header: 'gzip', expected: 'gzip' },
      { header: 'gzip, deflate, br', expected: 'br' },
      { header: 'gzip, deflate, br, zstd', expected: 'br' },
      { header: 'zstd, gzip', expected: 'zstd' },
      { header: 'GZIP', expected: 'gzip' },
      { header: 'x-gzip', expected: 'gzip' },
      { header: 'X-Gzip', available: GZIP_ONLY, expected: 'gzip' },
      { header: 'deflate', expected: 'identity' },
      { header: 'deflate', available: COMPRESSED_ONLY, expected: null },
      { header: 'br', available: GZIP_ONLY, expected: 'identity' },
      { header: 'identity', expected: 'identity' },
    ]);
  });

  describe('with q-values', () => {
    runTable([
      { header: 'br;q=0.5, gzip', expected: 'gzip' },
      { header: 'br;q=1.0, gzip;q=0.999', expected: 'br' },
      { header: 'gzip;q=0.8, br;q=0.8', expected: 'br' },
      { header: 'gzip;q=0.8, br;q=0.8', available: ['gzip', 'br'], expected: 'gzip' },
      { header: 'gzip ; q=0.5 , br ; Q=0.4', expected: 'gzip' },
      { header: 'gzip;q=0.001', available: ['gzip'], expected: 'gzip' },
      { header: 'gzip;level=9;q=0.5, br;q=0.4', expected: 'gzip' },
      { header: 'gzip;q=0.5, identity;q=0.6', expected: 'identity' },
      // An unlisted identity ranks with the least preferred listed coding.
      { header: 'gzip;q=0.5', available: GZIP_ONLY, expected: 'gzip' },
      { header: 'gzip;q=0.5, deflate;q=0.4', available: ['identity', 'gzip'], expected: 'gzip' },
      { header: 'gzip;q=0.5, deflate;q=0.6', available: ['identity', 'gzip'], expected: 'identity' },
      { header: 'gzip;q=0.5, deflate', available: ['identity', 'gzip'], expected: 'identity' },
    ]);
  });

  describe('with q=0', () => {
    runTable([
      { header: 'br;q=0, gzip', expected: 'gzip' },
      { header: 'br;q=0.000, gzip;q=0', expected: 'identity' },
      { header: 'gzip;q=0', available: COMPRESSED_ONLY, expected: null },
      { header: 'identity;q=0', expected: null },
      { header: 'gzip, identity;q=0', expected: 'gzip' },
      { header: 'identity;q=0', available: ['identity'], expected: null },
      // A coding listed twice keeps its lower q.
      { header: 'gzip, gzip;q=0', available: GZIP_ONLY, expected: 'identity' },
      { header: 'x-gzip;q=0, gzip', available: GZIP_ONLY, expected: 'identity' },
    ]);
  });

  describe('with *', () => {
    runTable([
      { header: '*', expected: 'br' },
      { header: '*;q=0.5, gzip', expected: 'gzip' },
      { header: '*;q=0.5, br;q=0', expected: 'zstd' },
      { header: '*;q=0', expected: null },
      { header: '*;q=0, identity', expected: 'identity' },
      { header: '*;q=0, gzip', expected: 'gzip' },
      { header: '*;q=0, identity;q=0.1', available: ['identity'], expected: 'identity' },
      { header: 'gzip;q=0.4, *;q=0.5', available: GZIP_ONLY, expected: 'identity' },
      { header: '*, identity;q=0', available: ['identity'], expected: null },
    ]);
  });

  describe('with malformed members', () => {
    runTable([
      { header: ',,,', expected: 'identity' },
      { header: 'gzip;q=2', available: GZIP_ONLY, expected: 'identity' },
      { header: 'gzip;q=1.001', available: GZIP_ONLY, expected: 'identity' },
      { header: 'gzip;q=0.1234', available: GZIP_ONLY, expected: 'identity' },
      { header: 'gzip;q=-1', available: GZIP_ONLY, expected: 'identity' },
      { header: 'gzip;q=abc, br', expected: 'br' },
      { header: 'gzip;q=', available: GZIP_ONLY, expected: 'identity' },
      { header: 'identity;q=x', available: ['identity'], expected: 'identity' },
      { header: 'g zip, br', expected: 'br' },
      { header: '"gzip"', available: GZIP_ONLY, expected: 'identity' },
      { header: ';q=1, gzip', available: GZIP_ONLY, expected: 'gzip' },
      { header: 'gzip;q', available: GZIP_ONLY, expected: 'gzip' },
      { header: 'gzip;;', available: GZIP_ONLY, expected: 'gzip' },
      { header: 'br;q=0.5;q=0', expected: 'identity' },
    ]);

    it('should not throw on a huge header', () => {
      const header = 'a;q=0.5,'.repeat(2000) + 'gzip;q=1';
      // The gzip member lies past the members we look at.
      assert.equal(negotiateEncoding(header, GZIP_ONLY), 'identity');
    });
  });
});
