// The command line as the library's options: each flag's value checked
// with the flag's own name in the message, serve's flag names taken as
// aliases where they mean the same, and serve.json (the root's, or
// --config's) read and checked once. No I/O beyond reading the files the
// flags name; cli.ts prints and listens.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { parseArgs } from 'node:util';
import type { MetricsListen, SecureServerOptions, ServerOptions } from './index';
import { LOG_FORMATS, type AccessLogOptions, type LogFormat } from './access-log';
import { ProxyTrust, TrustListError } from './trust-proxy';
import { verifierFor, type AuthOption } from './auth';
import { DEFAULT_DRAIN_TIMEOUT } from './drain';
import { HEALTH_PATH, MAX_SMALL_FILE_MAX, MIN_MAX_CHUNK, originOf, parseDuration, typeEntry, type SymlinkPolicy } from './options';
import { PER_RESPONSE_FIELDS, type HeaderEntry, type HeaderRule } from './rules';
import { loadServeConfig, optionsFromServeConfig, ServeConfigError } from './serve-config';
import { proxyTarget } from './proxy';

/** A refusal of the command line: printed as `sluice: <message>`, exit code 2. */
export class UsageError extends Error {}

export const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  listen: { type: 'string', short: 'l', multiple: true },
  'socket-mode': { type: 'string' },
  auth: { type: 'string', multiple: true },
  'auth-file': { type: 'string' },
  'auth-realm': { type: 'string' },
  engine: { type: 'string' },
  engines: { type: 'boolean' },
  dotfiles: { type: 'string' },
  'max-age': { type: 'string' },
  'max-chunk': { type: 'string' },
  'small-file-max': { type: 'string' },
  'no-index': { type: 'boolean' },
  workers: { type: 'string' },
  'send-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  log: { type: 'boolean' },
  'no-compress': { type: 'boolean' },
  'compress-cache': { type: 'string' },
  'compress-max-bytes': { type: 'string' },
  'compress-warm': { type: 'boolean' },
  'drain-timeout': { type: 'string' },
  config: { type: 'string', short: 'c' },
  single: { type: 'boolean', short: 's' },
  cors: { type: 'boolean', short: 'C' },
  listing: { type: 'boolean' },
  symlinks: { type: 'string', short: 'S' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  'ssl-pass': { type: 'string' },
  http2: { type: 'boolean' },
  'no-etag': { type: 'boolean' },
  header: { type: 'string', short: 'H', multiple: true },
  'cross-origin-isolated': { type: 'boolean' },
  health: { type: 'string' },
  mime: { type: 'string', multiple: true },
  'cors-origins': { type: 'string' },
  'cors-headers': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'log-format': { type: 'string' },
  proxy: { type: 'string' },
  'proxy-timeout': { type: 'string' },
  'front-door': { type: 'boolean' },
  metrics: { type: 'string' },
  'no-front-door': { type: 'boolean' },
  // serve's flags that have nothing to do here: accepted, so scripts keep working.
  'no-request-logging': { type: 'boolean', short: 'L' },
  'no-clipboard': { type: 'boolean', short: 'n' },
  'no-compression': { type: 'boolean', short: 'u' },
  'no-port-switching': { type: 'boolean' },
  debug: { type: 'boolean', short: 'd' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type Parsed = ReturnType<typeof parseArgs<{ allowPositionals: true; options: typeof FLAGS }>>;
export type Values = Parsed['values'];

const SYMLINK_VALUES: readonly string[] = ['follow', 'within-root', 'deny'];

/**
 * serve's `-S/--symlinks` takes no value (follow them); sluice's takes
 * follow | within-root | deny. A bare one becomes `--symlinks follow`.
 */
function withSymlinkValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    out.push(arg);
    if ((arg === '--symlinks' || arg === '-S') && !SYMLINK_VALUES.includes(argv[i + 1] ?? '')) out.push('follow');
  }
  return out;
}

export function parseCommandLine(argv: readonly string[]): Parsed {
  try {
    return parseArgs({ args: withSymlinkValues(argv), allowPositionals: true, options: FLAGS });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun 'sluice --help' for usage.`);
  }
}

/** A port from a flag or from $PORT, named in the message. */
export function parsePort(value: string, source: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`invalid port '${value}' from ${source} (expected 0-65535)`);
  return port;
}

/** Where one server listens: a TCP host and port, or a Unix socket's path (or a Windows named pipe's). */
export type ListenTarget = { host: string; port: number } | { path: string };

export function isSocketPath(target: ListenTarget): target is { path: string } {
  return 'path' in target;
}

/** A target as the start line names it: `http://host:port` or `unix:/path`. */
export function targetName(target: ListenTarget, scheme: string): string {
  if (isSocketPath(target)) return `${target.path.startsWith('\\\\') ? 'pipe' : 'unix'}:${target.path}`;
  return `${scheme}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

type ParsedListen = { host?: string; port: number } | { path: string };

const LISTEN_FORMS = 'expected PORT, HOST:PORT, tcp://HOST:PORT or unix:PATH';

/** serve's `--listen`: a port, `host:port`, `tcp://host:port`, `unix:/path/to.sock`, or (on Windows) `pipe:\\\\.\\pipe\\NAME`. */
export function parseListen(value: string, platform: NodeJS.Platform = process.platform): ParsedListen {
  if (value.startsWith('unix:')) {
    const file = value.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '' || file.includes('\0')) throw new UsageError(`invalid --listen '${value}' (expected unix:PATH, as in unix:/run/sluice.sock)`);
    // sun_path holds 108 bytes, its NUL included.
    if (Buffer.byteLength(path.resolve(file)) > 107) throw new UsageError(`invalid --listen '${value}' (a Unix socket's path is at most 107 bytes)`);
    return { path: path.resolve(file) };
  }
  if (value.startsWith('pipe:')) {
    const pipe = value.slice('pipe:'.length);
    if (platform !== 'win32') throw new UsageError(`invalid --listen '${value}' (named pipes are Windows's; use unix:PATH here)`);
    if (!pipe.startsWith('\\\\.\\pipe\\') || pipe.length <= 9) throw new UsageError(`invalid --listen '${value}' (expected pipe:\\\\.\\pipe\\NAME)`);
    return { path: pipe };
  }
  const bare = value.replace(/^tcp:\/\//, '');
  if (/^\d+$/.test(bare)) return { port: parsePort(bare, '--listen') };
  const m = /^\[?([^\]/]*?)\]?:(\d+)$/.exec(bare);
  if (m === null) throw new UsageError(`invalid --listen '${value}' (${LISTEN_FORMS})`);
  return { host: m[1] === '' ? undefined : m[1], port: parsePort(m[2], '--listen') };
}

/**
 * Where to listen: each -l (serve's form, repeatable: one server on each),
 * else --host/--port ($HOST/$PORT, 127.0.0.1:8080). --host gives the host of
 * an -l that names only a port; --port goes with one TCP -l at most (it
 * replaces that one's port, as before -l was repeatable).
 */
export function listenTargets(values: Values, env: NodeJS.ProcessEnv): ListenTarget[] {
  const host = values.host ?? env.HOST ?? '127.0.0.1';
  const listens = (values.listen ?? []).map((v) => parseListen(v));
  if (listens.length === 0)
    return [{ host, port: values.port === undefined ? (env.PORT === undefined ? 8080 : parsePort(env.PORT, '$PORT')) : parsePort(values.port, '--port') }];
  if (values.port !== undefined && (listens.length > 1 || 'path' in listens[0])) {
    throw new UsageError('--port goes with one TCP --listen at most (give each --listen its own port)');
  }
  const targets = listens.map((l): ListenTarget =>
    'path' in l ? l : { host: values.host ?? l.host ?? host, port: values.port === undefined ? l.port : parsePort(values.port, '--port') },
  );
  // Port 0 twice is two free ports.
  const names = targets.map((t) => (!isSocketPath(t) && t.port === 0 ? '' : targetName(t, 'tcp')));
  const twice = names.find((n, i) => n !== '' && names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`--listen ${twice} given twice`);
  return targets;
}

/** --socket-mode: an octal mode for the unix: sockets (660: the owner's group may connect too). */
export function parseSocketMode(value: string | undefined, targets: readonly ListenTarget[]): number | null {
  if (value === undefined) return null;
  if (!/^0?[0-7]{3}$/.test(value)) throw new UsageError(`invalid --socket-mode '${value}' (expected an octal mode such as 660)`);
  if (!targets.some(isSocketPath)) throw new UsageError('--socket-mode needs a --listen unix:PATH');
  return parseInt(value, 8);
}

/**
 * --metrics [HOST:]PORT: where the Prometheus metrics listener listens
 * (HOST defaults to 127.0.0.1; an IPv6 host in brackets). Not the serving
 * port itself.
 */
export function parseMetrics(value: string | undefined, servingPort: number): MetricsListen | null {
  if (value === undefined) return null;
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) throw new UsageError(`invalid --metrics '${value}' (expected [HOST:]PORT, as in 9100 or 0.0.0.0:9100)`);
  if (port !== 0 && port === servingPort) throw new UsageError(`invalid --metrics '${value}': ${port} is the serving port`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return Math.max(1, os.availableParallelism());
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1024) throw new UsageError(`invalid --workers '${value}' (expected 1-1024 or auto)`);
  return n;
}

/** --max-age takes a unit (`3600s`, `1h`, `1d`): a bare number or a word is refused, never guessed. */
export function parseMaxAge(value: string): string {
  const unit = /^\d+(?:\.\d+)? *([a-z]+)$/i.exec(value)?.[1];
  if (unit === undefined || Number.isNaN(parseDuration(value))) {
    throw new UsageError(`invalid --max-age '${value}' (give a unit, as in 3600s, 1h or 1d)`);
  }
  return value;
}

export { MIN_MAX_CHUNK };

export function parseMaxChunk(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < MIN_MAX_CHUNK) {
    throw new UsageError(`invalid --max-chunk '${value}' (expected bytes, at least ${MIN_MAX_CHUNK})`);
  }
  return n;
}

export function parseSmallFileMax(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > MAX_SMALL_FILE_MAX) {
    throw new UsageError(`invalid --small-file-max '${value}' (expected bytes, from 0 to ${MAX_SMALL_FILE_MAX})`);
  }
  return n;
}

/** A millisecond flag's value, or undefined when the flag was not given. */
function milliseconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`invalid --${flag} '${value}' (expected milliseconds)`);
  return Number(value);
}

function timeouts(values: Values): ServerOptions {
  const opts: ServerOptions = {};
  const given = {
    sendTimeout: milliseconds('send-timeout', values['send-timeout']),
    keepAliveTimeout: milliseconds('keep-alive-timeout', values['keep-alive-timeout']),
    headersTimeout: milliseconds('headers-timeout', values['headers-timeout']),
    requestTimeout: milliseconds('request-timeout', values['request-timeout']),
  };
  for (const [name, value] of Object.entries(given)) if (value !== undefined) opts[name as keyof typeof given] = value;
  return opts;
}

/** --drain-timeout, or its default. */
export function drainTimeout(values: Values): number {
  return milliseconds('drain-timeout', values['drain-timeout']) ?? DEFAULT_DRAIN_TIMEOUT;
}

/**
 * The compress cache: on unless --no-compress (serve's -u). The default
 * directory must not lie inside the served root (serving a home directory,
 * say) and must be writable: else the library uses a private one under the
 * system's temporary directory, and if that fails too, none.
 */
function compressOptions(values: Values): ServerOptions['compress'] {
  if (values['no-compress'] || values['no-compression']) {
    if (values['compress-warm']) throw new UsageError('--compress-warm needs the compress cache (it is off with --no-compress)');
    return false;
  }
  const max = values['compress-max-bytes'];
  if (max !== undefined && !/^[1-9]\d*$/.test(max)) throw new UsageError(`invalid --compress-max-bytes '${max}' (expected a number of bytes)`);
  const maxBytes = max === undefined ? undefined : Number(max);
  const explicit = values['compress-cache'];
  // The default directory: where it lies inside root or cannot be written, the library uses a private one under the temporary directory.
  return { dir: explicit, maxBytes, warm: values['compress-warm'] === true };
}

/** The flags sluice had before serve's came along. */
function ownOptions(values: Values): ServerOptions {
  const opts: ServerOptions = timeouts(values);
  if (values.engine !== undefined) opts.engine = values.engine as ServerOptions['engine'];
  if (values.dotfiles !== undefined) opts.dotfiles = values.dotfiles as ServerOptions['dotfiles'];
  if (values['max-age'] !== undefined) opts.maxAge = parseMaxAge(values['max-age']);
  if (values['max-chunk'] !== undefined) opts.maxChunk = parseMaxChunk(values['max-chunk']);
  if (values['small-file-max'] !== undefined) opts.smallFileMax = parseSmallFileMax(values['small-file-max']);
  if (values['no-index']) opts.index = false;
  if (values['no-etag']) opts.etag = false;
  opts.compress = compressOptions(values);
  return opts;
}

function symlinkPolicy(value: string | undefined): SymlinkPolicy | undefined {
  if (value === undefined) return undefined;
  if (!SYMLINK_VALUES.includes(value)) throw new UsageError(`invalid --symlinks '${value}' (expected follow, within-root or deny)`);
  return value as SymlinkPolicy;
}

/** The serve.json to read: --config's (relative to the current directory), else the root's if it has one. */
function configFile(values: Values, root: string): string | null {
  if (values.config !== undefined) return path.resolve(values.config);
  const own = path.join(root, 'serve.json');
  return fs.existsSync(own) ? own : null;
}

export interface RootAndOptions {
  root: string;
  options: ServerOptions;
  /** serve.json's path when one was read. */
  config: string | null;
}

/**
 * The root and options the flags and serve.json ask for. Without a
 * serve.json, `/about` still finds about.html (as sirv and http-server do);
 * links leaving the root are refused unless --symlinks says otherwise.
 */
export function rootAndOptions(values: Values, root: string): RootAndOptions {
  const file = configFile(values, root);
  let base: ServerOptions = { extensions: ['html', 'htm'], notFound: '404.html' };
  let servedRoot = root;
  if (file !== null) {
    try {
      const mapped = optionsFromServeConfig(loadServeConfig(file), root);
      base = mapped.options;
      servedRoot = mapped.root;
    } catch (err) {
      if (err instanceof ServeConfigError) throw new UsageError(`invalid serve.json: ${err.message}`);
      throw err;
    }
  }
  const options: ServerOptions = { symlinks: 'within-root', ...base, ...ownOptions(values) };
  const symlinks = symlinkPolicy(values.symlinks);
  if (symlinks !== undefined) options.symlinks = symlinks;
  if (values.single) options.single = true;
  if (values.cors) options.cors = true;
  if (values.listing) options.listing = true;
  operatorOptions(values, options);
  proxyFlags(values, options);
  const door = frontDoorWanted(values);
  if (door !== undefined) options.frontDoor = door;
  return { root: servedRoot, options, config: file };
}

/**
 * --front-door (the default) or --no-front-door; asked for over TLS, it is
 * refused: every byte goes through Node's TLS stream there.
 */
function frontDoorWanted(values: Values): boolean | undefined {
  if (values['no-front-door']) {
    if (values['front-door']) throw new UsageError('--front-door and --no-front-door contradict each other');
    return false;
  }
  if (!values['front-door']) return undefined;
  if (values['ssl-cert'] !== undefined) throw new UsageError("--front-door serves plain HTTP only (over TLS every byte goes through Node's TLS stream)");
  return true;
}

/** --proxy URL (misses and other methods go upstream) and --proxy-timeout MS. */
function proxyFlags(values: Values, options: ServerOptions): void {
  const url = values.proxy;
  const timeout = milliseconds('proxy-timeout', values['proxy-timeout']);
  if (url === undefined) {
    if (timeout !== undefined) throw new UsageError('--proxy-timeout needs --proxy');
    return;
  }
  const target = proxyTarget(url);
  if (typeof target === 'string') throw new UsageError(`invalid --proxy ${target}`);
  if (timeout === 0) throw new UsageError(`invalid --proxy-timeout '0' (expected milliseconds, at least 1)`);
  if (options.single) throw new UsageError('--single and --proxy exclude each other: with --proxy every miss goes to the upstream');
  options.proxy = { target, timeout };
}

/** What --cross-origin-isolated sets: the fields a page needs for SharedArrayBuffer. */
const CROSS_ORIGIN_ISOLATION: readonly HeaderEntry[] = [
  { key: 'Cross-Origin-Opener-Policy', value: 'same-origin' },
  { key: 'Cross-Origin-Embedder-Policy', value: 'require-corp' },
];

/** `-H 'Name: value'` as a field, refused as Node would refuse it on a response. */
export function parseHeaderFlag(value: string): HeaderEntry {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new UsageError(`invalid --header '${value}' (expected 'Name: value')`);
  const key = value.slice(0, colon);
  const field = value.slice(colon + 1).trim();
  try {
    validateHeaderName(key);
    validateHeaderValue(key, field);
  } catch (err) {
    throw new UsageError(`invalid --header '${value}' (${(err as Error).message})`);
  }
  if (PER_RESPONSE_FIELDS.includes(key.toLowerCase())) {
    throw new UsageError(`invalid --header '${value}' (sluice sets ${key} for each response${key.toLowerCase() === 'content-type' ? '; see --mime' : ''})`);
  }
  return { key, value: field };
}

/** The flags for running sluice in production: fields on every response. */
function operatorOptions(values: Values, options: ServerOptions): void {
  const everywhere = [...(values['cross-origin-isolated'] ? CROSS_ORIGIN_ISOLATION : []), ...(values.header ?? []).map(parseHeaderFlag)];
  if (everywhere.length > 0) options.headers = [...((options.headers as HeaderRule[] | undefined) ?? []), { headers: everywhere }];
  if (values.health !== undefined) options.health = parseHealth(values.health);
  if (values.mime !== undefined) options.mimeTypes = Object.fromEntries(values.mime.map(parseMimeFlag));
  corsLists(values, options);
  const auth = authOptions(values, process.env);
  if (auth !== undefined) options.auth = auth;
}

/** `user:hash` entries from --auth, --auth-file (one a line, # comments) and $SLUICE_AUTH (whitespace-separated), checked. */
function authEntries(values: Values, env: NodeJS.ProcessEnv): [source: string, entry: string][] {
  const entries: [string, string][] = (values.auth ?? []).map((e) => ['--auth', e]);
  const file = values['auth-file'];
  if (file !== undefined) {
    for (const line of readFlagFile('auth-file', file).toString('utf8').split(/\r?\n/)) {
      if (line.trim() !== '' && !line.trimStart().startsWith('#')) entries.push(['--auth-file', line.trim()]);
    }
  }
  for (const e of (env.SLUICE_AUTH ?? '').split(/\s+/)) if (e !== '') entries.push(['$SLUICE_AUTH', e]);
  return entries;
}

/** Basic auth's users, or undefined when none is given. A message never repeats a hash or a password. */
export function authOptions(values: Values, env: NodeJS.ProcessEnv): AuthOption | undefined {
  const entries = authEntries(values, env);
  if (entries.length === 0) {
    if (values['auth-realm'] !== undefined) throw new UsageError('--auth-realm needs --auth, --auth-file or $SLUICE_AUTH');
    return undefined;
  }
  const users: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [source, entry] of entries) {
    const colon = entry.indexOf(':');
    const flag = `invalid ${source}`;
    if (colon <= 0) throw new UsageError(`${flag} entry (expected USER:HASH)`);
    const user = entry.slice(0, colon);
    const why = verifierFor(entry.slice(colon + 1));
    if (typeof why === 'string') throw new UsageError(`${flag} for '${user}' (${why})`);
    if (user in users) throw new UsageError(`${flag}: user '${user}' given twice`);
    users[user] = entry.slice(colon + 1);
  }
  const realm = values['auth-realm'];
  if (realm !== undefined && (!/^[\x20-\x7e]+$/.test(realm) || /["\\]/.test(realm))) {
    throw new UsageError(`invalid --auth-realm '${realm}' (printable ASCII, no quotes or backslashes)`);
  }
  return { users, realm };
}

/** A comma-separated flag's items, each checked by `check` (which says why one is refused). */
function commaList(flag: string, value: string, check: (item: string) => string | null): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new UsageError(`invalid --${flag} '${value}' (expected a comma-separated list)`);
  for (const item of items) {
    const why = check(item);
    if (why !== null) throw new UsageError(`invalid --${flag} '${value}' (${why})`);
  }
  return items;
}

/** --cors-origins (a list instead of `*`) and --cors-headers (what preflights allow). */
function corsLists(values: Values, options: ServerOptions): void {
  const originsFlag = values['cors-origins'];
  const headersFlag = values['cors-headers'];
  if (headersFlag !== undefined && !values.cors && originsFlag === undefined) throw new UsageError('--cors-headers needs --cors or --cors-origins');
  if (originsFlag === undefined && headersFlag === undefined) return;
  const origins =
    originsFlag === undefined
      ? undefined
      : commaList('cors-origins', originsFlag, (o) => (originOf(o) === null ? `'${o}' is not an origin such as https://app.example` : null));
  const allowHeaders =
    headersFlag === undefined
      ? undefined
      : commaList('cors-headers', headersFlag, (h) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h) ? null : `'${h}' is not a header name`));
  options.cors = { origins, allowHeaders };
}

/** `--mime wasm=application/wasm` as an [extension, type] pair, checked as the mimeTypes option checks it. */
export function parseMimeFlag(value: string): [string, string] {
  const eq = value.indexOf('=');
  const entry = eq < 0 ? 'expected EXT=TYPE, as in wasm=application/wasm' : typeEntry(value.slice(0, eq), value.slice(eq + 1));
  if (typeof entry === 'string') throw new UsageError(`invalid --mime '${value}' (${entry})`);
  return [entry.ext, value.slice(eq + 1)];
}

export function parseHealth(value: string): string {
  if (!HEALTH_PATH.test(value)) throw new UsageError(`invalid --health '${value}' (expected a path such as /healthz)`);
  return value;
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read --${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** --ssl-cert/--ssl-key/--ssl-pass (a file holding the passphrase, as with serve) as TLS options, or null for plain HTTP. */
export function tlsOptions(values: Values): Pick<SecureServerOptions, 'tls' | 'http2'> | null {
  const certFile = values['ssl-cert'];
  const keyFile = values['ssl-key'];
  if (certFile === undefined && keyFile === undefined) {
    if (values.http2 || values['ssl-pass'] !== undefined) throw new UsageError('--http2 and --ssl-pass need --ssl-cert');
    return null;
  }
  if (certFile === undefined) throw new UsageError('--ssl-key needs --ssl-cert');
  const passphrase = values['ssl-pass'] === undefined ? undefined : readFlagFile('ssl-pass', values['ssl-pass']).toString('utf8').trim();
  const cert = readFlagFile('ssl-cert', certFile);
  if (/\.(pfx|p12)$/i.test(certFile)) return { tls: { pfx: cert, passphrase }, http2: Boolean(values.http2) };
  if (keyFile === undefined) throw new UsageError('--ssl-cert needs --ssl-key (or a .pfx/.p12 certificate)');
  return { tls: { cert, key: readFlagFile('ssl-key', keyFile), passphrase }, http2: Boolean(values.http2) };
}

/** --log's lines: --log-format's shape, with --trust-proxy's proxies believed on the client's address; null without --log. */
export function accessLogOptions(values: Values, health: string | false | undefined): AccessLogOptions | null {
  const format = values['log-format'];
  const trusted = values['trust-proxy'];
  if (!values.log) {
    if (format !== undefined || trusted !== undefined) throw new UsageError(`${format !== undefined ? '--log-format' : '--trust-proxy'} needs --log`);
    return null;
  }
  if (format !== undefined && !LOG_FORMATS.includes(format as LogFormat)) throw new UsageError(`invalid --log-format '${format}' (expected combined or json)`);
  let trust: ProxyTrust | null = null;
  if (trusted !== undefined) {
    try {
      trust = new ProxyTrust(commaList('trust-proxy', trusted, () => null));
    } catch (err) {
      if (err instanceof TrustListError) throw new UsageError(`invalid --trust-proxy '${trusted}' (${err.message})`);
      throw err;
    }
  }
  return { format: (format as LogFormat | undefined) ?? 'combined', trust, health: typeof health === 'string' ? health : null };
}
