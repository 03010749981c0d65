// The flags operators reach for in production, end to end through the CLI:
// fields on every response, and refusals that name the flag.
import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { CLI, startCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';

function makeSite(): string {
  const root = path.join(scratchDir(), 'site');
  fs.mkdirSync(path.join(root, 'dir'), { recursive: true });
  fs.mkdirSync(path.join(root, 'open'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>home</title>\n');
  fs.writeFileSync(path.join(root, 'dir', 'index.html'), 'dir\n');
  fs.writeFileSync(path.join(root, 'open', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
  fs.writeFileSync(path.join(root, '404.html'), '<p>not here</p>\n');
  return root;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The CLI's exit code and stderr for `args` (it must refuse them before listening). */
function refused(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--port', '0'], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stderr: r.stderr };
}

async function fetchHead(url: string, init: { method?: string; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers });
  await res.body.arrayBuffer();
  return res;
}

describe('cli: --header and --cross-origin-isolated', () => {
  const root = makeSite();
  let child: ChildProcess;
  let base: string;
  before(async () => {
    const started = await startCli([
      root,
      '--port',
      '0',
      '--listing',
      '-H',
      'X-Frame-Options: DENY',
      '--header',
      'Permissions-Policy:   camera=()  ',
      '--cross-origin-isolated',
      '-H',
      'Cross-Origin-Embedder-Policy: credentialless',
      '-H',
      'Cache-Control: no-store',
    ]);
    child = started.child;
    base = `http://127.0.0.1:${started.port}`;
  });
  after(() => stop(child));

  const expectFields = (res: { headers: Record<string, unknown> }, what: string): void => {
    assert.equal(res.headers['x-frame-options'], 'DENY', what);
    assert.equal(res.headers['permissions-policy'], 'camera=()', what);
    assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', what);
    // A later -H wins over what --cross-origin-isolated set.
    assert.equal(res.headers['cross-origin-embedder-policy'], 'credentialless', what);
    // One Cache-Control, the operator's, where sluice would set its own.
    if (!what.startsWith('40')) assert.equal(res.headers['cache-control'], 'no-store', what);
  };

  it('should put the fields on files and 304s', async () => {
    const file = await fetchHead(`${base}/hello.txt`);
    assert.equal(file.statusCode, 200);
    expectFields(file, 'file');
    const etag = String(file.headers.etag);
    const notModified = await fetchHead(`${base}/hello.txt`, { headers: { 'if-none-match': etag } });
    assert.equal(notModified.statusCode, 304);
    expectFields(notModified, '304');
  });

  it('should put the fields on the 404 page, redirects, listings and 405s', async () => {
    const missing = await fetchHead(`${base}/nope.txt`);
    assert.equal(missing.statusCode, 404);
    expectFields(missing, '404');
    const redirect = await fetchHead(`${base}/dir`);
    assert.equal(redirect.statusCode, 301);
    expectFields(redirect, 'redirect');
    const listing = await fetchHead(`${base}/open/`);
    assert.equal(listing.statusCode, 200);
    assert.match(String(listing.headers['content-type']), /text\/html/);
    expectFields(listing, 'listing');
    const post = await fetchHead(`${base}/hello.txt`, { method: 'POST' });
    assert.equal(post.statusCode, 405);
    expectFields(post, '405');
  });

  it('should set only the isolation fields with --cross-origin-isolated alone', async () => {
    const alone = await startCli([root, '--port', '0', '--cross-origin-isolated']);
    try {
      const res = await fetchHead(`http://127.0.0.1:${alone.port}/`);
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(res.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.equal(res.headers['x-frame-options'], undefined);
    } finally {
      await stop(alone.child);
    }
  });

  it('should refuse a malformed --header with the flag name and exit code 2', () => {
    for (const value of [
      'X-Frame-Options',
      ': no name',
      'Bad Name: x',
      'X-Ok: line\nbreak',
      'X-Ok: bell\u0007',
      'Content-Length: 5',
      'transfer-encoding: chunked',
    ]) {
      const r = refused([root, '--header', value]);
      assert.equal(r.status, 2, JSON.stringify(value));
      assert.match(r.stderr, /^sluice: invalid --header /, JSON.stringify(value));
    }
  });

  it('should list the flags in --help', () => {
    const r = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    for (const flag of ['-H, --header', '--cross-origin-isolated']) assert.ok(r.stdout.includes(flag), flag);
  });
});
