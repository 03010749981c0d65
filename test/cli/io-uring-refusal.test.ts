// `--engine io_uring` where io_uring_setup is refused outright, as a
// container's default seccomp profile does (Docker: EPERM, podman: ENOSYS):
// exit code 2 and a reason that says what blocks it and what lets it run.
import { strict as assert } from 'node:assert';
import { runCli } from '../helpers/cli';
import { fixtures } from '../helpers/fixtures';

describe('cli --engine io_uring when io_uring_setup is refused', () => {
  const fx = fixtures();
  for (const errno of ['EPERM', 'ENOSYS']) {
    it(`should exit 2 naming io_uring_setup: ${errno}, seccomp and the profile that allows it`, () => {
      const run = runCli([fx.root, '--port', '0', '--engine', 'io_uring'], { env: { SLUICE_FORCE_ERRNO: `io_uring_setup:${errno}` }, timeoutMs: 20_000 });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(
        run.stderr,
        new RegExp(`^sluice: The io_uring engine is not available: io_uring_setup: ${errno} \\(blocked by seccomp.*deploy/seccomp-io_uring\\.json\\)\\n$`),
      );
    });
  }

  it('should give other failures as they are', () => {
    const run = runCli([fx.root, '--port', '0', '--engine', 'io_uring'], { env: { SLUICE_FORCE_ERRNO: 'io_uring_setup:ENOMEM' }, timeoutMs: 20_000 });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, 'sluice: The io_uring engine is not available: io_uring_setup: ENOMEM\n');
  });
});
