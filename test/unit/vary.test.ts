import { strict as assert } from 'node:assert';
import { mergeVary } from '../../server/src/head';

describe('mergeVary', () => {
  const table: [string, string, string][] = [
    ['Origin', 'X-Custom', 'Origin, X-Custom'],
    ['Origin', 'origin', 'Origin'],
    ['Origin', 'X-A, Origin,  X-B', 'Origin, X-A, X-B'],
    ['Origin', '*', '*'],
    ['', 'X-A', 'X-A'],
    ['Origin, Access-Control-Request-Headers', 'x-a', 'Origin, Access-Control-Request-Headers, x-a'],
  ];
  for (const [a, b, expected] of table) it(`should merge '${a}' and '${b}' into '${expected}'`, () => assert.equal(mergeVary(a, b), expected));
});
