#!/usr/bin/env node
// argv → options → listen. No logic of its own beyond start-up checks.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createServer, engines, type SluiceOptions } from './index';
import { ENGINE_NAMES } from './engines';

const HELP = `Usage: sluice [root] [options]

Serves the files under root (default: the current directory) over HTTP,
sending bodies from the page cache to the socket with sendfile, splice or
io_uring where the kernel allows, and by copying where it does not.

Options:
  --host H          address to listen on (default: $HOST or 127.0.0.1)
  --port P          port to listen on; 0 takes a free port (default: $PORT or 8080)
  --engine E        auto | ${ENGINE_NAMES.join(' | ')} (default: auto).
                    A named engine that is not available is a start-up error.
  --engines         print which engines this machine supports, and why not, then exit
  --dotfiles D      allow | deny | ignore (default: ignore)
  --max-age T       Cache-Control max-age, in ms or as '1d', '2h' (default: 0)
  --max-chunk B     bytes one transfer sends before yielding (default: 2097152)
  --no-index        do not serve index.html for directories
  -h, --help        show this help
  -v, --version     print the version

The first line printed names the URL and the engine in use.
`;

function fail(message: string): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(2);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) fail(`invalid port '${value}' (expected 0-65535)`);
  return port;
}

function main(): void {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        engine: { type: 'string' },
        engines: { type: 'boolean' },
        dotfiles: { type: 'string' },
        'max-age': { type: 'string' },
        'max-chunk': { type: 'string' },
        'no-index': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\nRun 'sluice --help' for usage.`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  if (values.engines) {
    for (const report of engines()) {
      process.stdout.write(`${report.name.padEnd(9)} ${report.available ? 'available' : `unavailable: ${report.reason}`}\n`);
    }
    return;
  }
  if (positionals.length > 1) fail(`expected one root directory, got ${positionals.length}`);

  const root = path.resolve(positionals[0] ?? '.');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (err) {
    fail(`cannot serve ${root}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!stat.isDirectory()) fail(`cannot serve ${root}: not a directory`);

  const host = values.host ?? process.env.HOST ?? '127.0.0.1';
  const port = parsePort(values.port ?? process.env.PORT ?? '8080');
  const opts: SluiceOptions = {};
  if (values.engine !== undefined) opts.engine = values.engine as SluiceOptions['engine'];
  if (values.dotfiles !== undefined) opts.dotfiles = values.dotfiles as SluiceOptions['dotfiles'];
  if (values['max-age'] !== undefined) opts.maxAge = values['max-age'];
  if (values['max-chunk'] !== undefined) opts.maxChunk = Number(values['max-chunk']);
  if (values['no-index']) opts.index = false;

  let server;
  try {
    server = createServer(root, opts);
  } catch (err) {
    fail((err as Error).message);
  }
  server.on('error', (err: NodeJS.ErrnoException) => fail(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
  server.listen(port, host, () => {
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    process.stdout.write(`sluice listening on http://${urlHost}:${actualPort} engine=${server.sluice.engine} root=${root}\n`);
    if (server.sluice.engineNote.includes('(auto) (')) process.stdout.write(`sluice: ${server.sluice.engineNote}\n`);
  });

  // Graceful shutdown: stop accepting, let transfers in flight finish, and
  // close whatever is left after a deadline.
  const shutdown = (): void => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, 10_000).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main();
