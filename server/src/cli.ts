#!/usr/bin/env node
// The `sluice` command: argv → options → listen, the cluster primary for
// --workers, and graceful shutdown. What to serve and how is the library's.
import cluster from 'node:cluster';
import * as fs from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createSecureServer,
  createServer,
  engines,
  frontDoorAware,
  frontDoorUnavailableReason,
  type FrontDoorResponse,
  type ServerOptions,
  type SluiceSecureServer,
  type SluiceServer,
  type WarmSummary,
} from './index';
import { formatFrontDoorResponse, logResponse, type AccessLogOptions } from './access-log';
import {
  accessLogOptions,
  drainTimeout,
  isSocketPath,
  listenTargets,
  MIN_MAX_CHUNK,
  parseSocketMode,
  parseCommandLine,
  parseMetrics,
  parseWorkers,
  rootAndOptions,
  targetName,
  tlsOptions,
  UsageError,
  type ListenTarget,
  type Values,
} from './cli-options';
import { scryptHash } from './auth';
import { runCompressCommand } from './compress-command';
import { HTTP_SERVER_HELP, httpServerMode, withMode, type HttpServerMode } from './compat-http-server';
import { DEFAULT_DRAIN_TIMEOUT, drainOnSignal } from './drain';
import { ENGINE_NAMES } from './engines';
import { freeSocketPath, removeOnExit, SocketPathError } from './unix-socket';
import { serveClusterMetrics, shareWithPrimary, type MetricsListen } from './metrics';
import { exitWithPrimary, runPrimary, workerTicketKeys, type ListeningMessage } from './workers';
import { listenOptions, prepareWorkersTargets, workerTargets } from './workers-listen';

const HELP = `Usage: sluice [root] [options]
       sluice compress DIR    write .br/.gz siblings of DIR's compressible files
       sluice hash-password   read a password on stdin, print its scrypt hash for --auth

Serves the files under root (default: the current directory) over HTTP,
sending bodies from the page cache to the socket with sendfile, splice or
io_uring where the kernel allows, and by copying where it does not.
A serve.json in root (or --config FILE) is read as serve reads it.

Options:
  --host H          address to listen on (default: $HOST or 127.0.0.1)
  -p, --port P      port to listen on; 0 takes a free port (default: $PORT or 8080)
  -l, --listen URI  serve's form: PORT, HOST:PORT, tcp://HOST:PORT or unix:PATH
                    (a Unix socket; a stale socket file is removed, one a live
                    server owns is refused); repeatable: one server on each
  --socket-mode M   octal mode of the unix: sockets, as in 660 (default: by the umask)
  --engine E        auto | ${ENGINE_NAMES.join(' | ')} (default: auto).
                    A named engine that is not available is a start-up error.
  --engines         print which engines this machine supports, and why not, then exit
  -c, --config FILE serve.json to read (default: root/serve.json when it exists)
  -s, --single      single-page app: a missing path without an extension gets index.html
  -C, --cors        Access-Control-Allow-Origin: * and answers to CORS preflights
  --cors-origins LIST  CORS for these origins only (https://a.example,https://b.example):
                    a listed Origin is reflected, with Vary: Origin; others get none
  --cors-headers LIST  the request headers preflights allow (default: those asked for);
                    with --cors or --cors-origins
  --listing         list directories that have no index.html (HTML, or JSON on request)
  -S, --symlinks P  follow | within-root | deny (default: within-root, links leaving
                    root are refused); a bare -S, as in serve, means follow
  --ssl-cert FILE   serve HTTPS with this PEM certificate (or a .pfx/.p12 bundle)
  --ssl-key FILE    its private key
  --ssl-pass FILE   a file holding the key's passphrase
  --http2           offer HTTP/2 over HTTPS (ALPN; HTTP/1.1 clients still served)
  --dotfiles D      allow | deny | ignore (default: ignore)
  --max-age T       Cache-Control max-age with a unit: 3600s, 90m, 1h, 1d (default: 0)
  --max-chunk B     bytes one transfer sends before yielding, at least ${MIN_MAX_CHUNK} (default: 2097152)
  --small-file-max B  files up to B bytes are written from memory with the head
                    (default: 16384 under auto and io_uring, 65536 over
                    HTTPS with no --engine, else 0; 0: the engine moves every body)
  --no-index        do not serve index.html for directories
  --no-etag         send no ETag
  -H, --header 'NAME: VALUE'  add a field to every response (files, 304s, error
                    pages, redirects, listings); repeatable, a later NAME wins
  --cross-origin-isolated  Cross-Origin-Opener-Policy: same-origin and
                    Cross-Origin-Embedder-Policy: require-corp (SharedArrayBuffer)
  --mime EXT=TYPE   send TYPE as the Content-Type of *.EXT (wasm=application/wasm,
                    .md=text/markdown); repeatable; text types get charset=utf-8
  --no-compress     do not compress files (by default each compressible file of
                    1 KiB or more with no .br/.gz sibling is compressed once, in
                    the background, and its variant served from a cache on disk)
  --compress-cache DIR    the cache directory, outside root
                    (default: $XDG_CACHE_HOME/sluice/compressed or ~/.cache/...)
  --compress-max-bytes B  bound on the cache's size (default: 536870912)
  --compress-warm   compress root's compressible files in the background at start-up,
                    at idle priority, so first visitors get compressed bytes too; a
                    line says when it is done (variants, bytes, time)
  --send-timeout MS       close a connection whose client reads nothing for MS ms
                    while a body is sent (default: 60000; 0 = never)
  --keep-alive-timeout MS close kept-alive connections idle for MS ms (default: 5000)
  --headers-timeout MS    time a client has to send the request head (default: 20000)
  --request-timeout MS    time a client has to send the whole request (default: 30000)
  --drain-timeout MS      on SIGTERM/SIGINT, how long responses in flight may take
                    before their connections are closed (default: ${DEFAULT_DRAIN_TIMEOUT}: inside
                    a container's 10 s stop grace period). A second SIGTERM
                    changes nothing; a second SIGINT stops at once.
  --workers N       serve from N worker processes; 'auto' = one per CPU (default: 1).
                    On Node 22.12+ each worker has its own SO_REUSEPORT socket and the
                    kernel spreads connections; else node:cluster's primary hands them
                    out (SLUICE_WORKERS_BALANCE=cluster forces that). A worker that
                    dies is replaced.
  --log             write an access log line per response (combined format) to stdout
  --log-format F    combined (default) | json: one JSON object per line, with the
                    time, client, request, status, bytes and duration
  --trust-proxy LIST  peers (addresses, CIDR ranges, loopback, linklocal,
                    uniquelocal) whose X-Forwarded-For or Forwarded name the
                    client --log records
  --health PATH     answer PATH (say /healthz) before looking for a file: 200 ok
                    while serving, 503 once draining; no-store, never logged
  --metrics [HOST:]PORT  serve Prometheus metrics at http://HOST:PORT/metrics, a listener
                    of its own (HOST: 127.0.0.1 unless given; PORT 0 takes a free
                    one): requests, bytes by engine, durations, connections, caches,
                    fallbacks to copy, process; with --workers, summed over them
  --auth USER:HASH  HTTP Basic authentication; repeatable. HASH is scrypt:N:r:p:SALT:HASH
                    (sluice hash-password makes one) or bcrypt ($2b$...); a password in the
                    clear only as plain:PASSWORD. Also from --auth-file FILE (one USER:HASH
                    a line) and $SLUICE_AUTH (whitespace-separated). --health stays open
  --auth-realm R    the realm the 401's WWW-Authenticate names (default: sluice)
  --proxy URL       a fallback proxy: a path with no file, and every method but GET
                    and HEAD, goes to URL (http:// or https://, a path prefix kept),
                    streamed both ways, with X-Forwarded-For/-Proto/-Host; WebSocket
                    upgrades too. Upstream failures are 502, its timeouts 504.
                    The 404 page does not apply; not with --single
  --proxy-timeout MS  time the upstream has to connect and answer with its head,
                    and that its body may stall (default: 30000)
  --no-front-door   answer every request through Node's HTTP layer. By default (--front-door)
                    the addon answers plain GET/HEAD requests itself, before it, with the
                    bytes Node wrote for the same request (plain HTTP; not with --engine copy)
  -u, --no-compression    serve's name for --no-compress
  -L, --no-request-logging, -n, --no-clipboard, --no-port-switching, -d, --debug
                    serve's flags, accepted; sluice logs nothing unless --log
                    and never switches ports
  --compat http-server ARGS  read ARGS as http-server does (its flags, defaults
                    and environment; also the http-server-sluice command)
  -h, --help        show this help
  -v, --version     print the version

The first line printed names the URL (each listener's, space-separated), the engine in use
and whether the front door is on (never on a unix: socket).
`;

function fail(message: string): never {
  process.stderr.write(`sluice: ${message}\n`);
  process.exit(2);
}

/** The start-up line other tools read: URL first, then engine, workers, front door, root. */
function startLine(url: string, engine: string, workers: number, frontDoor: boolean, root: string): string {
  return `sluice listening on ${url} engine=${engine} workers=${workers} front-door=${frontDoor ? 'on' : 'off'} root=${root}\n`;
}

/** `http://127.0.0.1:8080`, with brackets for an IPv6 host. */
function urlOf(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Bound to every address: the local URL and one per LAN address, for people to click. */
function addressLines(scheme: string, host: string, port: number): string {
  if (host !== '0.0.0.0' && host !== '::') return '';
  const lines = [`  Local:   ${urlOf(scheme, 'localhost', port)}`];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || (host === '0.0.0.0' && a.family !== 'IPv4') || a.address.startsWith('fe80:')) continue;
      lines.push(`  Network: ${urlOf(scheme, a.address, port)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** addressLines() for each TCP target. */
function allAddressLines(scheme: string, targets: readonly ListenTarget[]): string {
  return targets.map((t) => (isSocketPath(t) ? '' : addressLines(scheme, t.host, t.port))).join('');
}

/** What the process serves, worked out once from the command line. */
interface Setup {
  root: string;
  /** Where to listen: one server on each. */
  targets: ListenTarget[];
  /** --socket-mode, or null. */
  socketMode: number | null;
  scheme: 'http' | 'https';
  options: ServerOptions;
  tls: ReturnType<typeof tlsOptions>;
  workers: number;
  /** --log's options, or null without it. */
  log: AccessLogOptions | null;
  /** The drain deadline (ms) on SIGTERM/SIGINT. */
  drainTimeout: number;
  /** --metrics: where its listener listens (the primary's, with --workers), or null. */
  metrics: MetricsListen | null;
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
    const door = frontDoorUnavailableReason();
    process.stdout.write(`front door ${door === '' ? 'available (on unless --no-front-door)' : `unavailable: ${door}`}\n`);
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

type AnyServer = SluiceServer | SluiceSecureServer;

function createOrFail(setup: Setup): AnyServer {
  try {
    if (setup.tls === null) return createServer(setup.root, setup.options);
    const ticketKeys = workerTicketKeys();
    return createSecureServer(setup.root, { ...setup.options, ...setup.tls, tls: ticketKeys ? { ...setup.tls.tls, ticketKeys } : setup.tls.tls });
  } catch (err) {
    fail((err as Error).message);
  }
}

function frontDoorOn(server: AnyServer): boolean {
  return 'frontDoor' in server.sluice && server.sluice.frontDoor !== null && server.sluice.frontDoor.active();
}

/** Why the front door is off where it is ('' when it is on or was not asked for, and is on everywhere else). */
function frontDoorLine(servers: readonly AnyServer[], setup: Setup): string {
  const on = servers.map(frontDoorOn);
  const why = (server: AnyServer): string => ('frontDoorNote' in server.sluice ? server.sluice.frontDoorNote : 'front door off (TLS)');
  if (setup.options.frontDoor === true && !on.includes(true)) return why(servers[0]);
  if (!on.includes(true) || !on.includes(false)) return '';
  const names = setup.targets.map((t, i) => (on[i] ? '' : `${targetName(t, setup.scheme)}: ${why(servers[i])}`));
  return names.filter(Boolean).join('; ');
}

/** Listens on `target`; calls back with the URL once it listens (--port 0's port resolved). */
function listenOn(server: AnyServer, target: ListenTarget, setup: Setup, listening: (target: ListenTarget) => void): void {
  const name = targetName(target, setup.scheme);
  server.on('error', (err: NodeJS.ErrnoException & { metricsListener?: boolean }) => {
    if (err.metricsListener === true) failMetrics(setup.metrics, err);
    fail(`cannot listen on ${name.replace(/^\w+:\/\//, '')}: ${err.code ?? err.message}`);
  });
  server.listen(listenOptions(target), () => {
    if (isSocketPath(target)) {
      if (setup.socketMode !== null) fs.chmodSync(target.path, setup.socketMode);
      return listening(target);
    }
    const address = server.address();
    listening({ ...target, port: typeof address === 'object' && address ? address.port : target.port });
  });
}

/** Listens on every target (one server each), then prints the start line (or, in a worker, tells the primary). */
function listenAndAnnounce(servers: readonly AnyServer[], setup: Setup): void {
  const bound: ListenTarget[] = [];
  let left = servers.length;
  const announce = (): void => {
    const url = bound.map((t) => targetName(t, setup.scheme)).join(' ');
    const first = servers[0];
    // auto says why it skipped faster engines (say, io_uring_setup: EPERM).
    const note = [first.sluice.engineNote.includes('unavailable here') ? first.sluice.engineNote : '', frontDoorLine(servers, setup)]
      .filter(Boolean)
      .join('; ');
    const frontDoor = servers.some(frontDoorOn);
    if (cluster.isWorker) {
      process.send?.({ sluice: 'listening', url, engine: first.sluice.engine, frontDoor, note } satisfies ListeningMessage);
      return;
    }
    for (const t of bound) if (isSocketPath(t)) removeOnExit(t.path);
    process.stdout.write(startLine(url, first.sluice.engine, 1, frontDoor, setup.root));
    if (note) process.stdout.write(`sluice: ${note}\n`);
    process.stdout.write(allAddressLines(setup.scheme, bound));
  };
  servers.forEach((server, i) =>
    listenOn(server, setup.targets[i], setup, (t) => {
      bound[i] = t;
      if (--left === 0) announce();
    }),
  );
}

/** The command line, checked: every refusal names its flag (or $PORT). */
function setupFrom(values: Values, positionals: string[]): Setup {
  const root = rootDirectory(positionals);
  try {
    // A worker listens where the primary said (--port 0 resolved).
    const targets = workerTargets() ?? listenTargets(values, process.env);
    const socketMode = parseSocketMode(values['socket-mode'], targets);
    const chosen = rootAndOptions(values, root);
    const tls = tlsOptions(values);
    if (tls !== null && chosen.options.engine !== undefined && chosen.options.engine !== 'copy' && chosen.options.engine !== 'auto') {
      throw new UsageError(`--engine ${chosen.options.engine} cannot send over TLS (bodies are encrypted in user space): use copy or auto`);
    }
    const workers = parseWorkers(values.workers);
    const scheme = tls === null ? 'http' : 'https';
    const log = accessLogOptions(values, chosen.options.health);
    const metrics = parseMetrics(values.metrics, servingPort(targets));
    // Each process collects; the one listener is this one's, or the primary's (which sums the workers').
    if (metrics !== null) chosen.options.metrics = workers > 1 || cluster.isWorker ? true : metrics;
    return { root: chosen.root, targets, socketMode, scheme, options: chosen.options, tls, workers, log, drainTimeout: drainTimeout(values), metrics };
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  }
}

function parsedOrFail(argv: readonly string[]): ReturnType<typeof parseCommandLine> {
  try {
    return parseCommandLine(argv);
  } catch (err) {
    fail((err as Error).message);
  }
}

/** Why a target cannot be listened on, for fail(). */
function listenFailure(err: Error & { code?: string; target?: ListenTarget }, scheme: string): string {
  if (err instanceof SocketPathError) return `cannot listen on unix:${err.path}: ${err.message}`;
  const where = err.target === undefined ? '' : targetName(err.target, scheme).replace(/^\w+:\/\//, '');
  return `cannot listen on ${where}: ${err.code ?? err.message}`;
}

/** Stale socket files removed, live ones refused, before anything listens on them. */
async function freeSocketPaths(targets: readonly ListenTarget[]): Promise<void> {
  for (const t of targets) if (isSocketPath(t) && !t.path.startsWith('\\\\')) await freeSocketPath(t.path);
}

/**
 * Access log lines, written together once per turn of the event loop (one
 * write for every response finished in it, as nginx's `buffer=`), in the
 * order they came (the front door's in batches), and whatever is left when
 * the process exits.
 */
function batchedWriter(): (lines: string | Buffer) => void {
  let pending: (string | Buffer)[] = [];
  const flush = (): void => {
    const out = pending;
    pending = [];
    for (const chunk of out) process.stdout.write(chunk);
  };
  process.on('exit', () => {
    for (const chunk of pending) fs.writeSync(1, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  });
  return (lines: string | Buffer): void => {
    const last = pending.length - 1;
    if (last < 0) setImmediate(flush);
    // Node's lines join into one string until a batch of the front door's comes between.
    if (typeof lines === 'string' && typeof pending[last] === 'string') pending[last] += lines;
    else pending.push(lines);
  };
}

/** The line that says where the metrics are (after the start line). */
function announceMetrics(address: ReturnType<Server['address']>): void {
  if (typeof address !== 'object' || address === null) return;
  process.stdout.write(`sluice: metrics on ${urlOf('http', address.address, address.port)}/metrics\n`);
}

function failMetrics(listen: MetricsListen | null, err: NodeJS.ErrnoException): never {
  fail(`cannot listen on ${listen?.host ?? ''}:${listen?.port ?? ''} (--metrics): ${err.code ?? err.message}`);
}

/** Serves --metrics from this process: its own listener, or, in a worker, through the primary's. */
function withMetrics(server: AnyServer, setup: Setup): void {
  const metrics = server.sluice.metrics;
  if (setup.metrics === null || metrics === null) return;
  if (cluster.isWorker) return shareWithPrimary(metrics.registry);
  server.on('metricsListening', announceMetrics);
}

/** The cluster primary: workers on every target, the start line once they all listen. */
function startPrimary(setup: Setup): void {
  // With reusePort every worker binds the ports prepared here (a free one
  // for --port 0); with cluster's balance (and on Unix sockets) the primary
  // listens for them.
  void freeSocketPaths(setup.targets)
    .then(() => prepareWorkersTargets(setup.targets))
    .then(
      (targets) => {
        const announce = (m: ListeningMessage): void => {
          for (const t of targets) if (isSocketPath(t)) removeOnExit(t.path);
          process.stdout.write(startLine(m.url, m.engine, setup.workers, m.frontDoor === true, setup.root));
          if (m.note) process.stdout.write(`sluice: ${m.note}\n`);
          process.stdout.write(allAddressLines(setup.scheme, targets));
          const metrics = setup.metrics;
          if (metrics !== null)
            serveClusterMetrics(
              metrics,
              (listener) => announceMetrics(listener.address()),
              (err) => failMetrics(metrics, err),
            );
        };
        runPrimary({ count: setup.workers, tls: setup.tls !== null, drainTimeout: setup.drainTimeout, announce, fail });
      },
      (err: Error) => fail(listenFailure(err, setup.scheme)),
    );
}

/**
 * One server per target, each with the access log. One of them warms the
 * compress cache (the first, in the first worker): the cache on disk is
 * shared, and the others take its variants as they find them.
 */
function createServers(setup: Setup): AnyServer[] {
  const compress = setup.options.compress;
  const warms = typeof compress === 'object' && compress.warm === true && (cluster.worker?.id ?? 1) === 1;
  let first: AnyServer | undefined;
  return setup.targets.map((_, i) => {
    const server = createOrFail(i === 0 ? (warms ? setup : withoutWarm(setup)) : withoutMetrics(withoutWarm(setup)));
    if (setup.log !== null) attachLog(server, setup.log);
    if (i === 0) withMetrics(server, setup);
    else countInFirstMetrics(first, server);
    first ??= server;
    if (warms && i === 0) server.on('compressWarm', (s: WarmSummary) => process.stdout.write(warmLine(s)));
    return server;
  });
}

/** A second or later listener's traffic, counted in the first's metrics (--metrics serves one set for all). */
function countInFirstMetrics(first: AnyServer | undefined, server: AnyServer): void {
  const metrics = first?.sluice.metrics ?? null;
  if (metrics === null) return;
  metrics.watch(server as unknown as Server, 'frontDoor' in server.sluice ? server.sluice.frontDoor : null);
}

/** The setup of a second or later listener: --metrics has one listener, the first server's. */
function withoutMetrics(setup: Setup): Setup {
  return setup.options.metrics === undefined ? setup : { ...setup, options: { ...setup.options, metrics: undefined } };
}

/** The TCP port served (the first TCP target's), which --metrics must not take; -1 with none. */
function servingPort(targets: readonly ListenTarget[]): number {
  for (const t of targets) if (!isSocketPath(t)) return t.port;
  return -1;
}

function withoutWarm(setup: Setup): Setup {
  const compress = setup.options.compress;
  return typeof compress === 'object' ? { ...setup, options: { ...setup.options, compress: { ...compress, warm: false } } } : setup;
}

function warmLine(s: WarmSummary): string {
  return `sluice: compress warm-up done: ${s.variants} variant${s.variants === 1 ? '' : 's'} of ${s.files} compressible file${s.files === 1 ? '' : 's'}, ${s.bytesIn} bytes to ${s.bytesOut}, in ${s.ms} ms\n`;
}

function attachLog(server: AnyServer, log: AccessLogOptions): void {
  const write = batchedWriter();
  server.prependListener(
    'request',
    frontDoorAware((req: IncomingMessage, res: ServerResponse) => logResponse(req, res, write, log)),
  );
  // What the front door sends never reaches 'request'. The addon makes
  // those lines itself unless the client's address comes from trusted
  // proxies' headers.
  const door = 'frontDoor' in server.sluice ? server.sluice.frontDoor : null;
  if (door !== null && log.trust === null) {
    door.logReplies({ format: log.format, health: log.health }, write);
    process.on('exit', () => fs.writeSync(1, door.takeLogLines()));
    return;
  }
  server.on('frontDoorResponse', (r: FrontDoorResponse) => {
    const line = formatFrontDoorResponse(r, new Date(), log);
    if (line !== '') write(line);
  });
}

/** `sluice hash-password`: the first line of stdin as an scrypt hash for --auth. */
function hashPassword(): void {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (c: Buffer) => chunks.push(c));
  process.stdin.on('end', () => {
    const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
    if (password === '') fail('hash-password: no password on stdin');
    process.stdout.write(`${scryptHash(password)}\n`);
  });
}

/**
 * `--compat http-server ARGS` (what `http-server-sluice ARGS` runs): ARGS
 * read as http-server reads them; null for sluice's own command line.
 */
function compatMode(argv: readonly string[]): HttpServerMode | null {
  const m = /^--compat(?:=(.*))?$/.exec(argv[0] ?? '');
  if (m === null) return null;
  const name = m[1] ?? argv[1];
  if (name !== 'http-server') fail(`invalid --compat '${name ?? ''}' (expected http-server)`);
  try {
    return httpServerMode(argv.slice(m[1] === undefined ? 2 : 1), process.env);
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  }
}

/** The compat mode's options, passphrase and title over what its translated flags gave. */
function applyCompat(setup: Setup, mode: HttpServerMode): void {
  setup.options = withMode(setup.options, mode);
  if (setup.tls !== null && mode.passphrase !== undefined) setup.tls = { ...setup.tls, tls: { ...setup.tls.tls, passphrase: mode.passphrase } };
  if (mode.title !== undefined) process.title = `http-server ${servingPort(setup.targets)} ${mode.title}`;
  for (const note of mode.notes) process.stderr.write(`sluice: ${note}\n`);
}

export function main(argv: readonly string[] = process.argv.slice(2)): void {
  // `sluice compress DIR` (serve a directory named compress as ./compress).
  if (argv[0] === 'compress') {
    void runCompressCommand(argv.slice(1)).then(
      (code) => process.exit(code),
      (err: Error) => fail(err.message),
    );
    return;
  }
  if (argv[0] === 'hash-password') return hashPassword();
  const compat = compatMode(argv);
  if (compat !== null && compat.argv[0] === '--help') return void process.stdout.write(HTTP_SERVER_HELP);
  const { values, positionals } = parsedOrFail(compat?.argv ?? argv);
  if (printedInfo(values)) return;
  const setup = setupFrom(values, positionals);
  if (compat !== null) applyCompat(setup, compat);
  const users = setup.options.auth ? Object.entries(setup.options.auth.users) : [];
  for (const [user] of users.filter(([, hash]) => hash.startsWith('plain:'))) {
    if (!cluster.isWorker)
      process.stderr.write(`sluice: warning: --auth for '${user}' holds its password in the clear (plain:); sluice hash-password makes a hash\n`);
  }
  if (setup.workers > 1 && cluster.isPrimary) {
    // Check the options here, so a bad flag fails once, not in every worker (the workers warm the cache).
    createOrFail(withoutWarm(setup));
    startPrimary(setup);
    return;
  }
  if (cluster.isWorker) exitWithPrimary();
  const servers = createServers(setup);
  // http-server's own line, after sluice's start line: scripts and tools wait for it.
  if (compat !== null) servers[0].once('listening', () => process.stdout.write(`Starting up http-server, serving ${setup.root}\n`));
  // In a worker, the primary freed the socket files and holds them.
  const freed = cluster.isWorker ? Promise.resolve() : freeSocketPaths(setup.targets);
  freed.then(
    () => listenAndAnnounce(servers, setup),
    (err: Error) => fail(listenFailure(err, setup.scheme)),
  );
  drainOnSignal(servers, setup.drainTimeout);
}

if (require.main === module) main();
