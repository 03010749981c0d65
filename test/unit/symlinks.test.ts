import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SymlinkPolicy } from '../../server/src/options';
import { SymlinkGuard } from '../../server/src/symlinks';
import { scratchDir } from '../helpers/fixtures';

describe('SymlinkGuard.allows', () => {
  // A real root reached through a link, as deploys often are: /base/current -> /base/releases/7
  const base = fs.realpathSync(scratchDir());
  const real = path.join(base, 'releases', '7');
  fs.mkdirSync(real, { recursive: true });
  const root = path.join(base, 'current');
  fs.symlinkSync(real, root);

  // [policy, requested path, real path of the opened file, allowed]
  const table: Array<[SymlinkPolicy, string, string, boolean]> = [
    ['within-root', `${root}/a.txt`, `${real}/a.txt`, true],
    ['within-root', `${root}/d/a.txt`, `${real}/other/a.txt`, true],
    ['within-root', `${root}/a.txt`, `${base}/etc/passwd`, false],
    ['within-root', `${root}/a.txt`, `${real}-evil/a.txt`, false],
    ['within-root', root, real, true],
    ['deny', `${root}/a.txt`, `${real}/a.txt`, true],
    ['deny', `${root}/d/e/a.txt`, `${real}/d/e/a.txt`, true],
    ['deny', `${root}/link.txt`, `${real}/a.txt`, false],
    ['deny', `${root}/d/a.txt`, `${real}/x/a.txt`, false],
    ['deny', `${root}/a.txt`, `${base}/a.txt`, false],
    ['deny', root, real, true],
  ];
  for (const [policy, requested, resolved, allowed] of table) {
    it(`should ${allowed ? 'allow' : 'refuse'} ${path.relative(base, requested) || '.'} → ${path.relative(base, resolved)} under '${policy}'`, () => {
      const guard = new SymlinkGuard(root, policy);
      assert.equal(guard.allows(requested, resolved), allowed);
    });
  }

  it('should be inactive for follow', () => {
    assert.equal(new SymlinkGuard(root, 'follow').active, false);
    assert.equal(new SymlinkGuard(root, 'deny').active, true);
  });

  it('should refuse everything while root does not resolve', () => {
    const guard = new SymlinkGuard(path.join(base, 'missing'), 'within-root');
    assert.equal(guard.allows(path.join(base, 'missing', 'a'), path.join(base, 'missing', 'a')), false);
  });

  it('should treat / as a root containing everything', () => {
    const guard = new SymlinkGuard('/', 'within-root');
    assert.equal(guard.allows('/etc/hostname', '/etc/hostname'), true);
    assert.equal(new SymlinkGuard('/', 'deny').allows('/x/y', '/x/y'), true);
  });
});
