import { strict as assert } from 'node:assert';
import { DEFAULT_MAX_RANGES, MAX_RANGE_PARTS, parseRange, type ByteRange, type RangeResult } from '../../server/src/range';

const NONE: RangeResult = { kind: 'none' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };

function ranges(...pairs: Array<[number, number]>): RangeResult {
  return { kind: 'ranges', ranges: pairs.map(([start, end]): ByteRange => ({ start, end })) };
}

interface Case {
  header: string | undefined;
  size: number;
  expected: RangeResult;
  maxRanges?: number;
}

function runTable(table: Case[]): void {
  for (const { header, size, expected, maxRanges } of table) {
    const opts = maxRanges === undefined ? undefined : { maxRanges };
    const label = `${JSON.stringify(header)} on ${size} bytes${opts ? ` (maxRanges ${maxRanges})` : ''}`;
    it(`should give ${expected.kind} for ${label}`, () => {
      assert.deepEqual(parseRange(header, size, opts), expected);
    });
  }
}

describe('parseRange', () => {
  describe('without a usable Range header', () => {
    runTable([
      { header: undefined, size: 1000, expected: NONE },
      { header: '', size: 1000, expected: NONE },
      { header: 'bytes', size: 1000, expected: NONE },
      { header: '0-1', size: 1000, expected: NONE },
      { header: 'items=0-1', size: 1000, expected: NONE },
      { header: 'bytesx=0-1', size: 1000, expected: NONE },
      { header: 'by tes=0-1', size: 1000, expected: NONE },
      { header: 'bytes=', size: 1000, expected: NONE },
      { header: 'bytes= , ,', size: 1000, expected: NONE },
    ]);
  });

  describe('with the bytes unit', () => {
    runTable([
      { header: 'bytes=0-499', size: 1000, expected: ranges([0, 499]) },
      { header: 'Bytes=0-1', size: 1000, expected: ranges([0, 1]) },
      { header: 'BYTES=0-1', size: 1000, expected: ranges([0, 1]) },
      { header: 'Bytes = 0-1', size: 1000, expected: ranges([0, 1]) },
      { header: 'bytes=\t0-1\t', size: 1000, expected: ranges([0, 1]) },
      { header: '  bytes=0-1  ', size: 1000, expected: ranges([0, 1]) },
    ]);
  });

  describe('with a single range', () => {
    runTable([
      { header: 'bytes=0-0', size: 1000, expected: ranges([0, 0]) },
      { header: 'bytes=500-999', size: 1000, expected: ranges([500, 999]) },
      { header: 'bytes=500-', size: 1000, expected: ranges([500, 999]) },
      { header: 'bytes=0-', size: 1000, expected: ranges([0, 999]) },
      { header: 'bytes=999-999', size: 1000, expected: ranges([999, 999]) },
      { header: 'bytes=0000-0009', size: 1000, expected: ranges([0, 9]) },
    ]);
  });

  describe('with an end past the file', () => {
    runTable([
      { header: 'bytes=0-1000', size: 1000, expected: ranges([0, 999]) },
      { header: 'bytes=900-5000', size: 1000, expected: ranges([900, 999]) },
      { header: `bytes=0-${Number.MAX_SAFE_INTEGER}`, size: 1000, expected: ranges([0, 999]) },
    ]);
  });

  describe('with a suffix range', () => {
    runTable([
      { header: 'bytes=-1', size: 1000, expected: ranges([999, 999]) },
      { header: 'bytes=-500', size: 1000, expected: ranges([500, 999]) },
      { header: 'bytes=-1000', size: 1000, expected: ranges([0, 999]) },
      { header: 'bytes=-5000', size: 1000, expected: ranges([0, 999]) },
      { header: 'bytes=-0', size: 1000, expected: UNSATISFIABLE },
      { header: 'bytes=-0,0-1', size: 1000, expected: ranges([0, 1]) },
      { header: 'bytes=-1', size: 0, expected: UNSATISFIABLE },
    ]);
  });

  describe('with an unsatisfiable range', () => {
    runTable([
      { header: 'bytes=1000-', size: 1000, expected: UNSATISFIABLE },
      { header: 'bytes=1000-1000', size: 1000, expected: UNSATISFIABLE },
      { header: 'bytes=5000-6000', size: 1000, expected: UNSATISFIABLE },
      { header: 'bytes=1000-,2000-', size: 1000, expected: UNSATISFIABLE },
      { header: 'bytes=0-0', size: 0, expected: UNSATISFIABLE },
      { header: 'bytes=0-', size: 0, expected: UNSATISFIABLE },
      { header: 'bytes=0-0,-1', size: 0, expected: UNSATISFIABLE },
      { header: 'bytes=2000-,0-9', size: 1000, expected: ranges([0, 9]) },
    ]);
  });

  describe('with a malformed range', () => {
    runTable([
      { header: 'bytes=-', size: 1000, expected: NONE },
      { header: 'bytes=5-4', size: 1000, expected: NONE },
      { header: 'bytes=a-b', size: 1000, expected: NONE },
      { header: 'bytes=1-2x', size: 1000, expected: NONE },
      { header: 'bytes=0x10-0x20', size: 1000, expected: NONE },
      { header: 'bytes=1.5-2', size: 1000, expected: NONE },
      { header: 'bytes=+1-2', size: 1000, expected: NONE },
      { header: 'bytes=--1', size: 1000, expected: NONE },
      { header: 'bytes=1-2-3', size: 1000, expected: NONE },
      { header: 'bytes=1', size: 1000, expected: NONE },
      { header: 'bytes=0 - 1', size: 1000, expected: NONE },
      { header: 'bytes=0-1;2-3', size: 1000, expected: NONE },
      { header: 'bytes=0-1,5-4', size: 1000, expected: NONE },
      { header: 'bytes=0-1,x', size: 1000, expected: NONE },
      // Malformed wins over unsatisfiable: the whole header is ignored.
      { header: 'bytes=5000-,5-4', size: 1000, expected: NONE },
      { header: 'bytes=5-4', size: 0, expected: NONE },
      { header: 'bytes=０-１', size: 1000, expected: NONE },
    ]);
  });

  describe('with huge numbers', () => {
    const max = Number.MAX_SAFE_INTEGER;
    runTable([
      { header: `bytes=${max}-`, size: 1000, expected: UNSATISFIABLE },
      { header: `bytes=${max + 1}-`, size: 1000, expected: NONE },
      { header: 'bytes=0-9007199254740992', size: 1000, expected: NONE },
      { header: 'bytes=-9007199254740992', size: 1000, expected: NONE },
      { header: `bytes=0-${'9'.repeat(400)}`, size: 1000, expected: NONE },
      { header: `bytes=${'0'.repeat(400)}1-2`, size: 1000, expected: ranges([1, 2]) },
      { header: 'bytes=0-1e3', size: 1000, expected: NONE },
      { header: 'bytes=4294967296-', size: 4294967297, expected: ranges([4294967296, 4294967296]) },
      { header: 'bytes=-1', size: max, expected: ranges([max - 1, max - 1]) },
    ]);
  });

  describe('with several ranges', () => {
    runTable([
      { header: 'bytes=0-0,-1', size: 1000, expected: ranges([0, 0], [999, 999]) },
      { header: 'bytes=0-0,-1', size: 1, expected: ranges([0, 0]) },
      { header: 'bytes=0-9, 20-29', size: 1000, expected: ranges([0, 9], [20, 29]) },
      { header: 'bytes=0-9 ,\t20-29', size: 1000, expected: ranges([0, 9], [20, 29]) },
      { header: 'bytes=0-9,,20-29,', size: 1000, expected: ranges([0, 9], [20, 29]) },
      // Sorted by start, whatever order the client used.
      { header: 'bytes=20-29,0-9', size: 1000, expected: ranges([0, 9], [20, 29]) },
      { header: 'bytes=-10,0-9', size: 1000, expected: ranges([0, 9], [990, 999]) },
    ]);
  });

  describe('with overlapping or adjacent ranges', () => {
    runTable([
      { header: 'bytes=0-9,5-14', size: 1000, expected: ranges([0, 14]) },
      { header: 'bytes=0-9,10-19', size: 1000, expected: ranges([0, 19]) },
      { header: 'bytes=0-9,11-19', size: 1000, expected: ranges([0, 9], [11, 19]) },
      { header: 'bytes=0-99,10-19', size: 1000, expected: ranges([0, 99]) },
      { header: 'bytes=0-,0-,0-', size: 1000, expected: ranges([0, 999]) },
      { header: 'bytes=500-,-600', size: 1000, expected: ranges([400, 999]) },
      { header: 'bytes=30-39,0-9,10-19,20-29', size: 1000, expected: ranges([0, 39]) },
      { header: 'bytes=0-0,0-0,0-0', size: 1000, expected: ranges([0, 0]) },
    ]);
  });

  describe('with too many ranges', () => {
    const disjoint = (n: number): string => 'bytes=' + Array.from({ length: n }, (_, i) => `${i * 2}-${i * 2}`).join(',');
    runTable([
      { header: disjoint(DEFAULT_MAX_RANGES), size: 1000, expected: ranges(...pairsOf(DEFAULT_MAX_RANGES)) },
      { header: disjoint(DEFAULT_MAX_RANGES + 1), size: 1000, expected: NONE },
      { header: disjoint(3), size: 1000, maxRanges: 2, expected: NONE },
      { header: disjoint(2), size: 1000, maxRanges: 2, expected: ranges([0, 0], [2, 2]) },
      { header: 'bytes=0-1', size: 1000, maxRanges: 0, expected: NONE },
      // Coalescing happens before counting, so these are one range.
      { header: 'bytes=' + '0-0,'.repeat(200) + '0-0', size: 1000, expected: ranges([0, 0]) },
      { header: disjoint(3), size: 1000, maxRanges: 1, expected: NONE },
    ]);

    it(`should give none past ${MAX_RANGE_PARTS} parts even if they coalesce`, () => {
      const header = 'bytes=' + Array.from({ length: MAX_RANGE_PARTS + 1 }, () => '0-0').join(',');
      assert.deepEqual(parseRange(header, 1000), NONE);
    });

    it(`should parse ${MAX_RANGE_PARTS} parts`, () => {
      const header = 'bytes=' + Array.from({ length: MAX_RANGE_PARTS }, () => '0-0').join(',');
      assert.deepEqual(parseRange(header, 1000), ranges([0, 0]));
    });

    it('should reject 10,000 ranges quickly', () => {
      const header = 'bytes=' + Array.from({ length: 10_000 }, (_, i) => `${i}-${i}`).join(',');
      const started = process.hrtime.bigint();
      for (let i = 0; i < 100; i++) assert.deepEqual(parseRange(header, 1e6), NONE);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(ms < 1000, `100 parses took ${ms} ms`);
    });

    it('should reject 10,000 empty parts without parsing them', () => {
      assert.deepEqual(parseRange('bytes=' + ','.repeat(10_000) + '0-1', 1000), NONE);
    });
  });

  describe('with an invalid size', () => {
    runTable([
      { header: 'bytes=0-1', size: -1, expected: NONE },
      { header: 'bytes=0-1', size: NaN, expected: NONE },
      { header: 'bytes=0-1', size: 1.5, expected: NONE },
      { header: 'bytes=0-1', size: Infinity, expected: NONE },
    ]);
  });
});

function pairsOf(n: number): Array<[number, number]> {
  return Array.from({ length: n }, (_, i): [number, number] => [i * 2, i * 2]);
}
