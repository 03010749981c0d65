import { strict as assert } from 'node:assert';
import { hasReusePort, workersBalance } from '../../server/src/workers-listen';

describe('workers-listen', () => {
  describe('hasReusePort', () => {
    const table: [string, boolean][] = [
      ['20.18.0', false],
      ['20.20.2', false],
      ['22.11.0', false],
      ['22.12.0', true],
      ['22.23.5', true],
      ['23.0.0', false],
      ['23.1.0', true],
      ['24.0.0', true],
      ['26.12.1', true],
    ];
    for (const [version, expected] of table) {
      it(`should say ${expected} for Node ${version}`, () => assert.equal(hasReusePort(version), expected));
    }
  });

  describe('workersBalance', () => {
    it('should balance in the kernel where listen() takes reusePort', () => assert.equal(workersBalance({}, '24.0.0'), 'kernel'));
    it('should fall back to node:cluster on older Node', () => assert.equal(workersBalance({}, '20.18.0'), 'cluster'));
    it('should use node:cluster when SLUICE_WORKERS_BALANCE=cluster', () => {
      assert.equal(workersBalance({ SLUICE_WORKERS_BALANCE: 'cluster' }, '24.0.0'), 'cluster');
    });
  });
});
