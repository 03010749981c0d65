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
import type { SecureServerOptions, ServerOptions } from './index';
import { LOG_FORMATS, type AccessLogOptions, type LogFormat } from './access-log';
import { ProxyTrust, TrustListError } from './trust-proxy';
import { isWithin } from './compress-cache';
import { DEFAULT_DRAIN_TIMEOUT } from './drain';
import { defaultCacheDir, HEALTH_PATH, MAX_SMALL_FILE_MAX, MIN_MAX_CHUNK, originOf, parseDuration, typeEntry, type SymlinkPolicy } from './options';
import { PER_RESPONSE_FIELDS, type HeaderEntry, type HeaderRule } from './rules';
import { loadServeConfig, optionsFromServeConfig, ServeConfigError } from './serve-config';
import { proxyTarget } from './proxy';

/** A refusal of the command line: printed as `sluice: <message>`, exit code 2. */
export class UsageError extends Error {}

export const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  listen: { type: 'string', short: 'l' },
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

/** serve's `--listen`: a port, `host:port`, or `tcp://host:port`. */
function parseListen(value: string): { host?: string; port: number } {
  const bare = value.replace(/^tcp:\/\//, '');
  if (/^\d+$/.test(bare)) return { port: parsePort(bare, '--listen') };
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(bare);
  if (m === null) throw new UsageError(`invalid --listen '${value}' (expected PORT, HOST:PORT or tcp://HOST:PORT)`);
  return { host: m[1] === '' ? undefined : m[1], port: parsePort(m[2], '--listen') };
}

export function hostAndPort(values: Values, env: NodeJS.ProcessEnv): { host: string; port: number } {
  const listen = values.listen === undefined ? null : parseListen(values.listen);
  const host = values.host ?? listen?.host ?? env.HOST ?? '127.0.0.1';
  if (values.port !== undefined) return { host, port: parsePort(values.port, '--port') };
  if (listen !== null) return { host, port: listen.port };
  return { host, port: env.PORT === undefined ? 8080 : parsePort(env.PORT, '$PORT') };
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
 * say): then one under the system's temporary directory is used, and if
 * that is inside too, none.
 */
function compressOptions(values: Values, root: string): ServerOptions['compress'] {
  if (values['no-compress'] || values['no-compression']) return false;
  const max = values['compress-max-bytes'];
  if (max !== undefined && !/^[1-9]\d*$/.test(max)) throw new UsageError(`invalid --compress-max-bytes '${max}' (expected a number of bytes)`);
  const maxBytes = max === undefined ? undefined : Number(max);
  const explicit = values['compress-cache'];
  if (explicit !== undefined) return { dir: explicit, maxBytes };
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = [defaultCacheDir(), path.join(os.tmpdir(), `sluice-${uid}`, 'compressed')].find((d) => !isWithin(path.resolve(d), path.resolve(root)));
  return dir === undefined ? false : { dir, maxBytes };
}

/** The flags sluice had before serve's came along. */
function ownOptions(values: Values, root: string): ServerOptions {
  const opts: ServerOptions = timeouts(values);
  if (values.engine !== undefined) opts.engine = values.engine as ServerOptions['engine'];
  if (values.dotfiles !== undefined) opts.dotfiles = values.dotfiles as ServerOptions['dotfiles'];
  if (values['max-age'] !== undefined) opts.maxAge = parseMaxAge(values['max-age']);
  if (values['max-chunk'] !== undefined) opts.maxChunk = parseMaxChunk(values['max-chunk']);
  if (values['small-file-max'] !== undefined) opts.smallFileMax = parseSmallFileMax(values['small-file-max']);
  if (values['no-index']) opts.index = false;
  if (values['no-etag']) opts.etag = false;
  opts.compress = compressOptions(values, root);
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

export interface Plan {
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
export function serveOptions(values: Values, root: string): Plan {
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
  const options: ServerOptions = { symlinks: 'within-root', ...base, ...ownOptions(values, servedRoot) };
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
