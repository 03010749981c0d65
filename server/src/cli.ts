#!/usr/bin/env node
// The `sluice` command: argv → options → listen, the cluster primary for
// --workers, and graceful shutdown. What to serve and how is the library's.
import cluster from 'node:cluster';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createServer, engines, type ServerOptions, type SluiceServer } from './index';
import { runCompressCommand } from './compress-command';
import { defaultCacheDir } from './options';
import { logResponse } from './access-log';
import { DEFAULT_DRAIN_TIMEOUT, drainOnSignal } from './drain';
import { ENGINE_NAMES } from './engines';
import { MIN_MAX_CHUNK } from './options';
import { exitWithPrimary, runPrimary, workerPort, type ListeningMessage } from './workers';

const HELP = `Usage: sluice [root] [options]
       sluice compress DIR    write .br/.gz siblings of DIR's compressible files

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
  --max-chunk B     bytes one transfer sends before yielding (default: 2097152;
                    at least ${MIN_MAX_CHUNK})
  --no-index        do not serve index.html for directories
  --no-compress     do not compress files (by default each compressible file of
                    1 KiB or more with no .br/.gz sibling is compressed once, in
                    the background, and its variant served from a cache on disk)
  --compress-cache DIR    the cache directory, outside root
                    (default: $XDG_CACHE_HOME/sluice/compressed or ~/.cache/...)
  --compress-max-bytes B  bound on the cache's size (default: 536870912)
  --send-timeout MS       close a connection whose client reads nothing for MS ms
                    while a body is sent (default: 60000; 0 = never)
  --keep-alive-timeout MS close kept-alive connections idle for MS ms (default: 5000)
  --headers-timeout MS    time a client has to send the request head (default: 20000)
  --request-timeout MS    time a client has to send the whole request (default: 30000)
  --drain-timeout MS      on SIGTERM/SIGINT, how long responses in flight may take
                    before their connections are closed (default: ${DEFAULT_DRAIN_TIMEOUT}: inside
                    a container's 10 s stop grace period). A second SIGTERM
                    changes nothing; a second SIGINT stops at once.
  --workers N       serve from N worker processes (node:cluster); 'auto' = one per CPU
                    (default: 1, no cluster). A worker that dies is replaced.
  --log             write an access log line per response (combined format) to stdout
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

function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return Math.max(1, os.availableParallelism());
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1024) fail(`invalid --workers '${value}' (expected 1-1024 or auto)`);
  return n;
}

/** The start-up line other tools read: URL first, then engine, workers, root. */
function startLine(url: string, engine: string, workers: number, root: string): string {
  return `sluice listening on ${url} engine=${engine} workers=${workers} root=${root}\n`;
}

const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  engine: { type: 'string' },
  engines: { type: 'boolean' },
  dotfiles: { type: 'string' },
  'max-age': { type: 'string' },
  'max-chunk': { type: 'string' },
  'no-index': { type: 'boolean' },
  'no-compress': { type: 'boolean' },
  'compress-cache': { type: 'string' },
  'compress-max-bytes': { type: 'string' },
  workers: { type: 'string' },
  'send-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  log: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Parsed = ReturnType<typeof parseArgs<{ allowPositionals: true; options: typeof FLAGS }>>;
type Values = Parsed['values'];

function parseCommandLine(): Parsed {
  try {
    return parseArgs({ allowPositionals: true, options: FLAGS });
  } catch (err) {
    fail(`${(err as Error).message}\nRun 'sluice --help' for usage.`);
  }
}

/** --help, --version, --engines: print and return true (nothing to serve). */
function printedInfo(values: Values): boolean {
  if (values.help) {
    process.stdout.write(HELP);
  } else if (values.version) {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
  } else if (values.engines) {
    for (const report of engines()) {
      process.stdout.write(`${report.name.padEnd(9)} ${report.available ? 'available' : `unavailable: ${report.reason}`}\n`);
    }
  } else {
    return false;
  }
  return true;
}

/** The directory to serve: the one positional argument, which must be a directory. */
function rootDirectory(positionals: string[]): string {
  if (positionals.length > 1) fail(`expected one root directory, got ${positionals.length}`);
  const root = path.resolve(positionals[0] ?? '.');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (err) {
    fail(`cannot serve ${root}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!stat.isDirectory()) fail(`cannot serve ${root}: not a directory`);
  return root;
}

/** A millisecond flag's value, or undefined when the flag was not given. */
function milliseconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) fail(`invalid --${flag} '${value}' (expected milliseconds)`);
  return Number(value);
}

/**
 * The compress cache: on unless --no-compress. The default directory must
 * not lie inside the served root (serving a home directory, say): then one
 * under the system's temporary directory is used, and if that is inside
 * too, none.
 */
function compressOptions(values: Values, root: string): ServerOptions['compress'] {
  if (values['no-compress']) return false;
  const max = values['compress-max-bytes'];
  if (max !== undefined && !/^[1-9]\d*$/.test(max)) fail(`invalid --compress-max-bytes '${max}' (expected a number of bytes)`);
  const maxBytes = max === undefined ? undefined : Number(max);
  const explicit = values['compress-cache'];
  if (explicit !== undefined) return { dir: explicit, maxBytes };
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = [defaultCacheDir(), path.join(os.tmpdir(), `sluice-${uid}`, 'compressed')].find((d) => !isInside(d, root));
  return dir === undefined ? false : { dir, maxBytes };
}

function isInside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function maxChunk(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < MIN_MAX_CHUNK || !Number.isSafeInteger(n)) {
    fail(`invalid --max-chunk '${value}' (expected bytes, at least ${MIN_MAX_CHUNK})`);
  }
  return n;
}

/** The server's options from the flags; createServer validates them. */
function serverOptions(values: Values, root: string): ServerOptions {
  const opts: ServerOptions = {};
  if (values.engine !== undefined) opts.engine = values.engine as ServerOptions['engine'];
  if (values.dotfiles !== undefined) opts.dotfiles = values.dotfiles as ServerOptions['dotfiles'];
  if (values['max-age'] !== undefined) opts.maxAge = values['max-age'];
  if (values['max-chunk'] !== undefined) opts.maxChunk = maxChunk(values['max-chunk']);
  if (values['no-index']) opts.index = false;
  opts.compress = compressOptions(values, root);
  const timeouts = {
    sendTimeout: milliseconds('send-timeout', values['send-timeout']),
    keepAliveTimeout: milliseconds('keep-alive-timeout', values['keep-alive-timeout']),
    headersTimeout: milliseconds('headers-timeout', values['headers-timeout']),
    requestTimeout: milliseconds('request-timeout', values['request-timeout']),
  };
  for (const [name, value] of Object.entries(timeouts)) if (value !== undefined) opts[name as keyof typeof timeouts] = value;
  return opts;
}

function createOrFail(root: string, opts: ServerOptions): SluiceServer {
  try {
    return createServer(root, opts);
  } catch (err) {
    fail((err as Error).message);
  }
}

/** Listens, then prints the start line (or, in a worker, tells the primary). */
function listenAndAnnounce(server: SluiceServer, host: string, port: number, root: string): void {
  server.on('error', (err: NodeJS.ErrnoException) => fail(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
  server.listen(port, host, () => {
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const url = `http://${urlHost}:${actualPort}`;
    // auto says why it skipped faster engines (say, io_uring_setup: EPERM).
    const note = server.sluice.engineNote.includes('unavailable here') ? server.sluice.engineNote : '';
    if (cluster.isWorker) {
      process.send?.({ sluice: 'listening', url, engine: server.sluice.engine, note } satisfies ListeningMessage);
      return;
    }
    process.stdout.write(startLine(url, server.sluice.engine, 1, root));
    if (note) process.stdout.write(`sluice: ${note}\n`);
  });
}

function main(): void {
  // `sluice compress DIR` (serve a directory named compress as ./compress).
  if (process.argv[2] === 'compress') {
    void runCompressCommand(process.argv.slice(3)).then(
      (code) => process.exit(code),
      (err: Error) => fail(err.message),
    );
    return;
  }
  const { values, positionals } = parseCommandLine();
  if (printedInfo(values)) return;
  const root = rootDirectory(positionals);
  const host = values.host ?? process.env.HOST ?? '127.0.0.1';
  const port = workerPort() ?? parsePort(values.port ?? process.env.PORT ?? '8080');
  const opts = serverOptions(values, root);
  const workers = parseWorkers(values.workers);
  const drainTimeout = milliseconds('drain-timeout', values['drain-timeout']) ?? DEFAULT_DRAIN_TIMEOUT;
  if (workers > 1 && cluster.isPrimary) {
    // Check the options here, so a bad flag fails once, not in every worker.
    createOrFail(root, opts);
    const announce = (m: ListeningMessage): void => {
      process.stdout.write(startLine(m.url, m.engine, workers, root));
      if (m.note) process.stdout.write(`sluice: ${m.note}\n`);
    };
    runPrimary({ count: workers, host, port, drainTimeout, announce, fail });
    return;
  }
  if (cluster.isWorker) exitWithPrimary();
  const server = createOrFail(root, opts);
  if (values.log) {
    const write = (line: string): void => void process.stdout.write(line);
    server.prependListener('request', (req, res) => logResponse(req, res, write));
  }
  listenAndAnnounce(server, host, port, root);
  drainOnSignal(server, drainTimeout);
}

main();
