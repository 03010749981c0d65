// The CLI as a drop-in for serve: serve.json read and checked at start-up,
// serve's flag names, HTTPS (and HTTP/2 through ALPN), symlinks leaving
// the root refused by default, values refused with their flag's name, the
// banner's LAN addresses and the drain messages.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { launchCli, runCli, stopCli, type CliRun, type StartedCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { engineCases } from '../helpers/server';
import { testCert } from '../helpers/tls';

/** Starts the CLI and resolves once its first line names the URL (on any address). */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<StartedCli> {
  return launchCli(args, { env, ready: /^[^\n]*(https?):\/\/[^\s]+:(\d+)/ });
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  return runCli(args, { env });
}

function makeSite(): { root: string; outside: string } {
  const base = scratchDir();
  const root = path.join(base, 'site');
  fs.mkdirSync(path.join(root, 'files'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!DOCTYPE html><title>home</title>\n');
  fs.writeFileSync(path.join(root, 'about.html'), 'about\n');
  fs.writeFileSync(path.join(root, '404.html'), 'custom 404\n');
  fs.writeFileSync(path.join(root, 'files', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(base, 'secret.txt'), 'outside the root\n');
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'passwd'));
  return { root, outside: path.join(base, 'secret.txt') };
}

async function get(
  url: string,
  headers: Record<string, string> = {},
  dispatcher?: Agent,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const res = await request(url, { headers, dispatcher });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('cli as a drop-in for serve', () => {
  const { root } = makeSite();

  describe('with a serve.json', () => {
    let dir = '';
    before(() => {
      dir = path.join(scratchDir(), 'with-config');
      fs.cpSync(root, dir, { recursive: true, verbatimSymlinks: true });
      const config = {
        headers: [{ source: '**/*.txt', headers: [{ key: 'X-From', value: 'serve.json' }] }],
        rewrites: [{ source: '/app/**', destination: '/index.html' }],
        redirects: [{ source: '/old', destination: '/about', type: 302 }],
        directoryListing: ['/files'],
      };
      fs.writeFileSync(path.join(dir, 'serve.json'), JSON.stringify(config));
    });

    for (const c of engineCases().filter((e) => e.available)) {
      it(`should apply its rules, clean URLs and the 404 page [engine ${c.name}]`, async () => {
        const s = await start([dir, '--port', '0', '--engine', c.name]);
        try {
          assert.equal((await get(`${s.base}/files/a.txt`)).headers['x-from'], 'serve.json');
          assert.match((await get(`${s.base}/app/deep/link`)).body, /<title>home/);
          const old = await get(`${s.base}/old`);
          assert.equal(old.status, 302);
          assert.equal(old.headers.location, '/about');
          assert.equal((await get(`${s.base}/about`)).body, 'about\n');
          assert.equal((await get(`${s.base}/about.html`)).status, 301);
          const miss = await get(`${s.base}/nope`);
          assert.equal(miss.status, 404);
          assert.equal(miss.body, 'custom 404\n');
          assert.equal((await get(`${s.base}/files`)).status, 200, 'listed where directoryListing allows');
        } finally {
          assert.equal(await stopCli(s.child), 0);
        }
      });
    }

    it('should read --config / -c from the current directory', async () => {
      const file = path.join(scratchDir(), 'custom.json');
      fs.writeFileSync(file, JSON.stringify({ headers: [{ source: '**', headers: [{ key: 'X-Custom', value: '1' }] }] }));
      const s = await start([root, '--port', '0', '-c', file]);
      try {
        assert.equal((await get(`${s.base}/about`)).headers['x-custom'], '1');
      } finally {
        await stopCli(s.child);
      }
    });
  });

  describe('with a bad serve.json', () => {
    const refuse = (config: string): string => {
      const file = path.join(scratchDir(), 'serve.json');
      fs.writeFileSync(file, config);
      const r = run([root, '--port', '0', '--config', file]);
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.includes(file), r.stderr);
      return r.stderr;
    };

    it('should refuse it at start-up with the path and the key', () => {
      assert.match(
        refuse(JSON.stringify({ headers: [{ source: '**', headers: [{ key: 'bad key', value: 'x' }] }] })),
        /headers\[0\]\.headers\[0\]\.key: must match pattern/,
      );
      assert.match(refuse(JSON.stringify({ cleanURLs: true })), /cleanURLs: is not a serve\.json key/);
      assert.match(refuse(JSON.stringify({ trailingSlash: 'yes' })), /trailingSlash: must be boolean/);
      assert.match(refuse(JSON.stringify({ redirects: [{ source: '/a', destination: '/b', type: 200 }] })), /redirects\[0\]\.type: must be a 3xx status/);
      assert.match(refuse(JSON.stringify({ rewrites: [{ source: '/a' }] })), /rewrites\[0\]\.destination: must be a string/);
      assert.match(refuse('{ "public": '), /not valid JSON/);
    });
  });

  describe('with serve’s flags', () => {
    it('should take -s, -C, -l and -L', async () => {
      const s = await start([root, '-s', '-C', '-L', '-l', 'tcp://127.0.0.1:0']);
      try {
        const shell = await get(`${s.base}/some/route`);
        assert.equal(shell.status, 200);
        assert.match(shell.body, /<title>home/);
        assert.equal(shell.headers['cache-control'], 'no-cache');
        assert.equal((await get(`${s.base}/app.js`)).status, 404);
        assert.equal((await get(`${s.base}/about`)).headers['access-control-allow-origin'], '*');
        const preflight = await request(`${s.base}/about`, { method: 'OPTIONS', headers: { origin: 'http://x', 'access-control-request-method': 'GET' } });
        assert.equal(preflight.statusCode, 204);
        await preflight.body.text();
      } finally {
        await stopCli(s.child);
      }
    });

    it('should list directories only with --listing', async () => {
      const plain = await start([root, '--port', '0']);
      try {
        assert.equal((await get(`${plain.base}/files/`)).status, 404);
      } finally {
        await stopCli(plain.child);
      }
      const listing = await start([root, '--port', '0', '--listing']);
      try {
        assert.match((await get(`${listing.base}/files/`)).body, /a\.txt/);
      } finally {
        await stopCli(listing.child);
      }
    });
  });

  describe('with symlinks', () => {
    it('should refuse a link leaving the root by default, and follow it with -S or --symlinks follow', async () => {
      const safe = await start([root, '--port', '0']);
      try {
        assert.equal((await get(`${safe.base}/passwd`)).status, 403);
      } finally {
        await stopCli(safe.child);
      }
      for (const flags of [['-S'], ['--symlinks', 'follow']]) {
        const open = await start([root, '--port', '0', ...flags]);
        try {
          assert.equal((await get(`${open.base}/passwd`)).body, 'outside the root\n');
        } finally {
          await stopCli(open.child);
        }
      }
      assert.match(run([root, '--symlinks=sometimes']).stderr, /invalid --symlinks 'sometimes'/);
    });
  });

  describe('when values are wrong', () => {
    it('should name the flag, or $PORT', () => {
      assert.match(run([root, '--max-age', '3600']).stderr, /invalid --max-age '3600' \(give a unit/);
      assert.match(run([root, '--max-age', 'forever']).stderr, /invalid --max-age 'forever'/);
      assert.match(run([root, '--max-chunk', '1']).stderr, /invalid --max-chunk '1' \(expected bytes, at least 4096\)/);
      assert.match(run([root], { PORT: 'abc' }).stderr, /invalid port 'abc' from \$PORT/);
      assert.match(run([root, '--port', 'x']).stderr, /invalid port 'x' from --port/);
      assert.match(run([root, '--ssl-key', 'k.pem']).stderr, /--ssl-key needs --ssl-cert/);
      assert.match(run([root, '--ssl-cert', '/nonexistent.pem', '--ssl-key', '/nonexistent.key']).stderr, /cannot read --ssl-cert \/nonexistent\.pem: ENOENT/);
    });

    it('should take a max-age with a unit', async () => {
      const s = await start([root, '--port', '0', '--max-age', '1h']);
      try {
        assert.match(String((await get(`${s.base}/files/a.txt`)).headers['cache-control']), /max-age=3600/);
      } finally {
        await stopCli(s.child);
      }
    });
  });

  describe('the banner and shutdown', () => {
    it('should keep the first line, add the LAN addresses on 0.0.0.0, and say it drains', async () => {
      const s = await start([root, '--port', '0', '--host', '0.0.0.0']);
      const until = Date.now() + 3000;
      while (
        !s
          .output()
          .split('\n')
          .some((l) => l.includes('Local:')) &&
        Date.now() < until
      )
        await new Promise((r) => setTimeout(r, 20));
      assert.match(s.output().split('\n')[0], /^sluice listening on http:\/\/0\.0\.0\.0:\d+ engine=\w+ workers=1 front-door=(on|off) root=/);
      assert.ok(
        s
          .output()
          .split('\n')
          .some((l) => /^ {2}Local: {3}http:\/\/localhost:\d+$/.test(l)),
        s.output().split('\n').join('\n'),
      );
      assert.equal(await stopCli(s.child), 0);
      assert.match(s.stderr(), /draining 0 open connections/);
      assert.match(s.stderr(), /drained; exiting/);
    });
  });

  describe('with --ssl-cert and --ssl-key', () => {
    const made = testCert();
    if (made.cert === null) {
      it.skip(`skipped: ${made.reason}`, () => {});
      return;
    }
    const cert = made.cert;
    let certFile = '';
    let keyFile = '';
    before(() => {
      const dir = scratchDir();
      certFile = path.join(dir, 'cert.pem');
      keyFile = path.join(dir, 'key.pem');
      fs.writeFileSync(certFile, cert.cert);
      fs.writeFileSync(keyFile, cert.key);
    });

    it('should serve HTTPS on the copy engine and say https:// on the first line', async () => {
      const s = await start([root, '--port', '0', '--ssl-cert', certFile, '--ssl-key', keyFile]);
      const agent = new Agent({ connect: { rejectUnauthorized: false } });
      try {
        assert.match(s.output().split('\n')[0], /^sluice listening on https:\/\/127\.0\.0\.1:\d+ engine=copy /);
        const r = await get(`${s.base}/files/a.txt`, {}, agent);
        assert.equal(r.status, 200);
        assert.equal(r.body, 'a\n');
      } finally {
        await agent.close();
        await stopCli(s.child);
      }
      assert.match(run([root, '--ssl-cert', certFile, '--ssl-key', keyFile, '--engine', 'sendfile']).stderr, /cannot send over TLS/);
    });

    it('should offer HTTP/2 through ALPN with --http2', async () => {
      const s = await start([root, '--port', '0', '--ssl-cert', certFile, '--ssl-key', keyFile, '--http2']);
      const session = http2.connect(s.base, { rejectUnauthorized: false });
      try {
        const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const stream = session.request({ ':path': '/files/a.txt' });
          let status = 0;
          let text = '';
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.on('data', (c: Buffer) => (text += c.toString()));
          stream.on('end', () => resolve({ status, text }));
          stream.on('error', reject);
          stream.end();
        });
        assert.equal(body.status, 200);
        assert.equal(body.text, 'a\n');
        assert.equal(session.alpnProtocol, 'h2');
      } finally {
        session.close();
        await stopCli(s.child);
      }
    });
  });
});
