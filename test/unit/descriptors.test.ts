import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { isOutOfDescriptors, MAX_TABLE_FILES, openFileLimit, tableBudget } from '../../server/src/descriptors';

describe('descriptors', () => {
  const table: Array<[number | null, number]> = [
    [null, MAX_TABLE_FILES],
    [64, 16],
    [256, 64],
    [1024, 256],
    [20_000, MAX_TABLE_FILES],
    [Number.MAX_SAFE_INTEGER, MAX_TABLE_FILES],
    [3, 0],
  ];
  for (const [limit, budget] of table) {
    it(`should give the open-file table ${budget} files under a limit of ${limit}`, () => {
      assert.equal(tableBudget(limit), budget);
    });
  }

  it("should read this process's soft RLIMIT_NOFILE", function () {
    if (process.platform !== 'linux') this.skip();
    const module = path.resolve(__dirname, '..', '..', 'server', 'src', 'descriptors.js');
    const r = spawnSync(
      'sh',
      ['-c', 'ulimit -n 300 && exec "$0" -e "$1"', process.execPath, `console.log(require(${JSON.stringify(module)}).openFileLimit())`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.stdout.trim(), '300');
    assert.ok((openFileLimit() ?? 0) > 0);
  });

  it('should know EMFILE and ENFILE as running out of descriptors, and nothing else', () => {
    assert.ok(isOutOfDescriptors('EMFILE') && isOutOfDescriptors('ENFILE'));
    assert.ok(!isOutOfDescriptors('ENOENT') && !isOutOfDescriptors(undefined));
  });
});
