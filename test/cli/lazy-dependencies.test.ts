// What a server loads: prom-client, undici and bcryptjs (about 13 MiB of
// RSS together) load with the first server that uses --metrics, --proxy or
// a bcrypt hash, and never for one that does not.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { launchCli, stopCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';

const OPTIONAL = ['prom-client', 'undici', 'bcryptjs'];

/** Which of OPTIONAL a server started with `args` has loaded once it has answered a request. */
async function loadedBy(args: string[]): Promise<string[]> {
  const root = scratchDir();
  fs.writeFileSync(path.join(root, 'index.html'), 'hello\n');
  // The preload prints the packages loaded so far when the server is told to (SIGUSR2).
  const report = path.join(root, 'loaded.txt');
  const preload = path.join(root, 'report-loaded.js');
  fs.writeFileSync(
    preload,
    `process.on('SIGUSR2', () => require('fs').writeFileSync(${JSON.stringify(report)}, Object.keys(require.cache).filter((f) => f.includes('node_modules')).join('\\n')));\n`,
  );
  const started = await launchCli([root, '--port', '0', ...args], { env: { NODE_OPTIONS: `--require ${preload}` } });
  try {
    const res = await request(`${started.base}/`);
    await res.body.text();
    started.child.kill('SIGUSR2');
    for (let i = 0; i < 100 && !fs.existsSync(report); i++) await new Promise((r) => setTimeout(r, 20));
    const files = fs.readFileSync(report, 'utf8').split('\n');
    return OPTIONAL.filter((name) => files.some((f) => f.includes(`${path.sep}node_modules${path.sep}${name}${path.sep}`)));
  } finally {
    await stopCli(started.child);
  }
}

describe('cli: dependencies loaded only where used', function () {
  this.timeout(20_000);

  it('should load none of prom-client, undici and bcryptjs for a plain server', async () => {
    assert.deepEqual(await loadedBy([]), []);
  });

  it('should load prom-client with --metrics, undici with --proxy and bcryptjs with a bcrypt hash', async () => {
    assert.deepEqual(await loadedBy(['--metrics', '127.0.0.1:0']), ['prom-client']);
    assert.deepEqual(await loadedBy(['--proxy', 'http://127.0.0.1:9']), ['undici']);
    const bcrypt = '$2b$04$0123456789012345678901uG1Q0F8JZz8jW0rZ9o7QnYxY8sJ3xK.';
    assert.deepEqual(await loadedBy(['--auth', `ann:${bcrypt}`]), ['bcryptjs']);
  });
});
