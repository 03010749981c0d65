// http-server's command line (`http-server-sluice`, or `sluice --compat
// http-server`): its flags, defaults and environment variables, mapped
// onto sluice's own flags and options. Flags sluice cannot honour are
// refused with the reason, never silently ignored when they would change
// what is served. Every refusal names the flag (exit 2).
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerOptions } from './index';
import { basicAuthGate } from './basic-auth';
import { UsageError } from './cli-options';
import { typeEntry } from './options';
import { proxyTarget } from './proxy';

type Kind = 'bool' | 'value' | 'optional';

/** http-server's flags: the canonical name, what it takes, and its other spellings. */
const SPEC: readonly { name: string; kind: Kind; also: readonly string[] }[] = [
  { name: 'p', kind: 'value', also: ['port'] },
  { name: 'a', kind: 'value', also: [] },
  { name: 'd', kind: 'bool', also: [] },
  { name: 'i', kind: 'bool', also: [] },
  { name: 'g', kind: 'bool', also: ['gzip'] },
  { name: 'b', kind: 'bool', also: ['brotli'] },
  { name: 'e', kind: 'value', also: ['ext'] },
  { name: 's', kind: 'bool', also: ['silent'] },
  { name: 'c', kind: 'value', also: [] },
  { name: 't', kind: 'value', also: [] },
  { name: 'U', kind: 'bool', also: ['utc'] },
  { name: 'log-ip', kind: 'bool', also: [] },
  { name: 'S', kind: 'bool', also: ['tls', 'ssl'] },
  { name: 'C', kind: 'value', also: ['cert'] },
  { name: 'K', kind: 'value', also: ['key'] },
  { name: 'r', kind: 'optional', also: ['robots'] },
  { name: 'cors', kind: 'optional', also: [] },
  { name: 'dotfiles', kind: 'bool', also: [] },
  { name: 'mimetypes', kind: 'value', also: [] },
  { name: 'username', kind: 'value', also: ['user'] },
  { name: 'password', kind: 'value', also: [] },
  { name: 'P', kind: 'value', also: ['proxy'] },
  { name: 'websocket', kind: 'bool', also: [] },
  { name: 'H', kind: 'value', also: ['header'] },
  { name: 'coop', kind: 'optional', also: [] },
  { name: 'private-network-access', kind: 'bool', also: [] },
  { name: 'o', kind: 'optional', also: [] },
  { name: 'T', kind: 'value', also: ['title'] },
  { name: 'hide-permissions', kind: 'bool', also: [] },
  { name: 'panic', kind: 'bool', also: [] },
  { name: 'h', kind: 'bool', also: ['help'] },
  { name: 'v', kind: 'bool', also: ['version'] },
  // sluice's own, which http-server has no word for.
  { name: 'front-door', kind: 'bool', also: [] },
  // Refused below, with the reason.
  { name: 'base-dir', kind: 'value', also: [] },
  { name: 'dir-overrides-404', kind: 'bool', also: [] },
  { name: 'force-content-encoding', kind: 'bool', also: [] },
  { name: 'content-type', kind: 'value', also: [] },
  { name: 'proxy-all', kind: 'bool', also: [] },
  { name: 'proxy-config', kind: 'value', also: [] },
  { name: 'proxy-options', kind: 'value', also: [] },
];

export const HTTP_SERVER_HELP = `usage: http-server-sluice [path] [options]
       sluice --compat http-server [path] [options]

http-server's command line, served by sluice. Root: path, else ./public
if it exists, else ./ . Environment: PORT, NODE_HTTP_SERVER_USERNAME,
NODE_HTTP_SERVER_PASSWORD, NODE_HTTP_SERVER_SSL_PASSPHRASE.

options:
  -p --port    Port to use; 0 takes a free one [$PORT, else 8080]
  -a           Address to use [0.0.0.0]
  -d           Show directory listings [true]; -d false turns them off
  -i           Display autoIndex (index.html for directories) [true]
  -g --gzip    Serve x.gz for x when the client accepts gzip [false]
  -b --brotli  Serve x.br for x when the client accepts br (before gzip) [false]
  -e --ext     Default file extension if none supplied [html]
  -s --silent  No access log (by default one line per response)
  -c           Cache time (max-age) in seconds [3600]; -c-1 disables caching
  -t           Connection idle timeout in seconds [120]; -t0 disables it
  -U --utc, --log-ip   accepted: log lines carry the address and time anyway
  -S --tls --ssl  HTTPS, with -C --cert [cert.pem] and -K --key [key.pem]
  -r --robots  Answer /robots.txt [User-agent: *\\nDisallow: /]; --robots=TEXT
  --cors[=headers]  Access-Control-Allow-Origin: *, preflights answered,
               with these request headers allowed besides http-server's
  --coop[=mode]  Cross-Origin-Opener-Policy (same-origin) and COEP require-corp
  --private-network-access  Access-Control-Allow-Private-Network: true
  -H --header  Add a response field (repeatable)
  --no-dotfiles  Do not serve or list dotfiles (served by default)
  --mimetypes  A .types file (type ext ext ...) of extra types
  --username, --password  Basic authentication
  -P --proxy   Fallback proxy for paths with no file (WebSocket upgrades too;
               --websocket accepted)
  -T --title   Process title suffix
  -o, --hide-permissions, --no-panic  accepted, change nothing
  --no-front-door  sluice's own: every request through Node's HTTP layer
  -h --help    Print this list and exit
  -v --version Print the version and exit

Refused, with the reason: --base-dir, --dir-overrides-404,
--force-content-encoding, --content-type, --proxy-all, --proxy-config,
--proxy-options.
`;

/** Flags sluice does not take, and why (README, "http-server mode"). */
export const REFUSED: Readonly<Record<string, string>> = {
  'base-dir': 'sluice serves its root at /; mount it under a path behind a proxy instead',
  'dir-overrides-404': "sluice's listing of a directory without an index always wins over 404.html",
  'force-content-encoding': 'sluice never serves x.gz as a coding of x when x.gz itself is asked for (the type would be wrong for a download)',
  'content-type': 'sluice has no default type for unknown extensions (application/octet-stream); name types with --mimetypes',
  'proxy-all': 'sluice serves local files first; run the upstream itself on the port',
  'proxy-config': "sluice's proxy has one upstream for every miss (-P)",
  'proxy-options': "sluice's proxy takes no http-proxy options",
};

export type CompatValues = Record<string, string | boolean | string[]>;

function specOf(flag: string): (typeof SPEC)[number] | undefined {
  return SPEC.find((s) => s.name === flag || s.also.includes(flag));
}

function put(values: CompatValues, name: string, value: string | boolean): void {
  const prior = values[name];
  if (name === 'H') values.H = [...(Array.isArray(prior) ? prior : []), String(value)];
  else values[name] = value;
}

/** A flag's value as the next argument takes it: none for a following flag (or, for a boolean, anything but true/false). */
function takesNext(kind: Kind, next: string | undefined): boolean {
  if (next === undefined) return false;
  if (kind === 'bool') return next === 'true' || next === 'false';
  // --cors, --coop, -r, -o take a value only as --cors=X (a root after them stays the root).
  if (kind === 'optional') return false;
  return !(next.startsWith('-') && next.length > 1 && !/^-\d/.test(next));
}

/** One `--name[=value]` argument; returns how many arguments it used. */
function longFlag(arg: string, next: string | undefined, values: CompatValues): number {
  const eq = arg.indexOf('=');
  let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
  let negated = false;
  if (specOf(name) === undefined && name.startsWith('no-') && specOf(name.slice(3)) !== undefined) {
    name = name.slice(3);
    negated = true;
  }
  const spec = specOf(name);
  if (spec === undefined) throw new UsageError(`unknown option '--${name}' (http-server mode; see --help)`);
  if (negated) return (put(values, spec.name, false), 1);
  if (eq >= 0) return (put(values, spec.name, arg.slice(eq + 1)), 1);
  if (spec.kind === 'value' && !takesNext('value', next)) throw new UsageError(`--${name} needs a value`);
  if (takesNext(spec.kind, next)) return (put(values, spec.name, next as string), 2);
  return (put(values, spec.name, true), 1);
}

/** One `-x`, `-xVALUE` or `-gbs` argument; returns how many arguments it used. */
function shortFlags(arg: string, next: string | undefined, values: CompatValues): number {
  const letters = arg.slice(1);
  for (let i = 0; i < letters.length; i++) {
    const spec = specOf(letters[i]);
    if (spec === undefined) throw new UsageError(`unknown option '-${letters[i]}' (http-server mode; see --help)`);
    const rest = letters.slice(i + 1);
    if (spec.kind === 'value' || (spec.kind === 'optional' && rest !== '')) {
      if (rest !== '') return (put(values, spec.name, rest), 1);
      if (spec.kind === 'optional' || !takesNext('value', next)) {
        if (spec.kind === 'value') throw new UsageError(`-${spec.name} needs a value`);
        return (put(values, spec.name, true), 1);
      }
      return (put(values, spec.name, next as string), 2);
    }
    if (rest === '' && takesNext(spec.kind, next)) return (put(values, spec.name, next as string), 2);
    put(values, spec.name, true);
  }
  return 1;
}

/** http-server's argv as minimist would read it for these flags: `-c-1`, `-p8080`, `--cors=X-A`, `-d false`, `--no-dotfiles`. */
export function parseHttpServerArgs(argv: readonly string[]): { values: CompatValues; positionals: string[] } {
  const values: CompatValues = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length;) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) i += longFlag(arg, argv[i + 1], values);
    else if (arg.startsWith('-') && arg.length > 1) i += shortFlags(arg, argv[i + 1], values);
    else {
      positionals.push(arg);
      i++;
    }
  }
  return { values, positionals };
}

function isFalse(value: unknown): boolean {
  return value === false || value === 'false';
}

function str(values: CompatValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** What the mode asks of the CLI beyond sluice's own flags. */
export interface HttpServerMode {
  /** sluice's command line (root first). */
  argv: string[];
  /** Options set over the ones sluice's flags give. */
  overrides: ServerOptions & { upgrades?: boolean };
  /** $NODE_HTTP_SERVER_SSL_PASSPHRASE, for the key. */
  passphrase?: string;
  /** -T: the process title's suffix. */
  title?: string;
  /** What is accepted but changes nothing, for stderr. */
  notes: string[];
}

/** -c: seconds of max-age (default 3600); -1: no caching at all. */
function cacheFlag(value: string | undefined, argv: string[], overrides: ServerOptions): void {
  const c = value ?? '3600';
  if (c === '-1') {
    overrides.cacheControl = false;
    argv.push('-H', 'Cache-Control: no-cache, no-store, must-revalidate');
    return;
  }
  if (!/^\d+$/.test(c)) throw new UsageError(`invalid -c '${c}' (expected seconds of max-age, or -1 for no caching)`);
  argv.push('--max-age', `${c}s`);
}

/** -t: seconds a connection may idle (default 120; 0: never). */
function timeoutFlag(value: string | undefined, argv: string[]): void {
  const t = value ?? '120';
  if (!/^\d+$/.test(t)) throw new UsageError(`invalid -t '${t}' (expected seconds, 0 for no timeout)`);
  const ms = String(Number(t) * 1000);
  argv.push('--keep-alive-timeout', ms, '--send-timeout', ms);
}

/** The port: -p, else $PORT, else 8080 (0 takes a free one). */
function portFlag(values: CompatValues, env: NodeJS.ProcessEnv, argv: string[]): void {
  // $PORT as http-server reads it (parseInt: 9090.86 is 9090).
  const p = str(values, 'p') ?? (env.PORT === undefined ? undefined : (/^\d+/.exec(env.PORT)?.[0] ?? env.PORT));
  const source = str(values, 'p') !== undefined ? '-p' : '$PORT';
  if (p !== undefined && (!/^\d+$/.test(p) || Number(p) > 65535)) throw new UsageError(`invalid ${source} '${p}' (expected 0-65535)`);
  argv.push('--port', p ?? '8080', '--host', str(values, 'a') ?? '0.0.0.0');
  if (values.a === true) throw new UsageError('-a needs an address');
}

/** --mimetypes FILE: an Apache .types file (`type ext ext …` per line, # comments). */
export function mimeTypesFile(file: string): string[] {
  if (file.trimStart().startsWith('{')) return mimeTypesJson(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --mimetypes ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const out: string[] = [];
  for (const [n, line] of text.split(/\r?\n/).entries()) {
    const words = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    for (const ext of words.slice(1)) {
      const entry = typeEntry(ext, words[0]);
      if (typeof entry === 'string') throw new UsageError(`invalid --mimetypes ${file} line ${n + 1} (${entry})`);
      out.push(`${entry.ext}=${words[0]}`);
    }
  }
  return out;
}

/** --mimetypes '{"application/x-my-type": ["opml"]}': types and their extensions, as JSON. */
function mimeTypesJson(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`invalid --mimetypes '${text}' (neither a .types file nor JSON such as {"text/x-a": ["a"]})`);
  }
  const out: string[] = [];
  for (const [type, exts] of Object.entries(parsed as Record<string, unknown>)) {
    for (const ext of Array.isArray(exts) ? exts : [exts]) {
      const entry = typeEntry(String(ext), type);
      if (typeof entry === 'string') throw new UsageError(`invalid --mimetypes '${text}' (${entry})`);
      out.push(`${entry.ext}=${type}`);
    }
  }
  return out;
}

/** -S/-C/-K: HTTPS with cert.pem and key.pem by default. */
function tlsFlags(values: CompatValues, argv: string[]): void {
  if (!values.S || isFalse(values.S)) return;
  const cert = str(values, 'C') ?? 'cert.pem';
  const key = str(values, 'K') ?? 'key.pem';
  for (const [flag, file] of [
    ['-C', cert],
    ['-K', key],
  ] as const) {
    if (!fs.existsSync(file)) throw new UsageError(`cannot read ${flag} ${file}: ENOENT (give the file with ${flag}, or use neither -S nor ${flag})`);
  }
  argv.push('--ssl-cert', cert, '--ssl-key', key);
}

/** --cors[=headers]: `*`, and preflights allowing http-server's list plus the ones named. */
function corsFlag(value: string | boolean | undefined, argv: string[]): void {
  if (value === undefined || isFalse(value)) return;
  const base = 'Origin,X-Requested-With,Content-Type,Accept,Range';
  argv.push('--cors', '--cors-headers', typeof value === 'string' && value !== 'true' ? `${base},${value}` : base);
}

/** What http-server's -r/robots and basic auth answer before any file (one intercept for both). */
function intercepts(values: CompatValues, env: NodeJS.ProcessEnv): ServerOptions['intercept'] {
  const user = str(values, 'username') ?? env.NODE_HTTP_SERVER_USERNAME;
  const pass = str(values, 'password') ?? env.NODE_HTTP_SERVER_PASSWORD;
  if ((user === undefined) !== (pass === undefined) || values.username === true || values.password === true) {
    throw new UsageError('--username and --password go together (or $NODE_HTTP_SERVER_USERNAME and $NODE_HTTP_SERVER_PASSWORD)');
  }
  const auth = user !== undefined && pass !== undefined ? basicAuthGate(user, pass) : null;
  const r = values.r;
  const robots = r === undefined || isFalse(r) ? null : typeof r === 'string' && r !== 'true' ? r.replace(/\\n/g, '\n') : 'User-agent: *\nDisallow: /';
  if (auth === null && robots === null) return undefined;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (auth?.(req, res) === true) return true;
    if (robots === null || req.url !== '/robots.txt') return false;
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(robots) });
    res.end(req.method === 'HEAD' ? undefined : robots);
    return true;
  };
}

/** The root: the positional, else ./public when it exists, else the current directory. */
function rootOf(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`expected one root directory, got ${positionals.length}`);
  return positionals[0] ?? (fs.existsSync('public') ? 'public' : '.');
}

/** The flags that only add fields, names or notes. */
function smallFlags(values: CompatValues, argv: string[], mode: HttpServerMode): void {
  // A name alone is a field with an empty value, as http-server takes it.
  for (const h of (values.H as string[] | undefined) ?? []) argv.push('-H', h.includes(':') ? h : `${h}:`);
  const coop = values.coop;
  if (coop !== undefined && !isFalse(coop)) {
    if (typeof coop === 'string' && coop !== 'true') argv.push('-H', `Cross-Origin-Opener-Policy: ${coop}`, '-H', 'Cross-Origin-Embedder-Policy: require-corp');
    else argv.push('--cross-origin-isolated');
  }
  if (values['private-network-access'] === true) argv.push('-H', 'Access-Control-Allow-Private-Network: true');
  if (typeof values.mimetypes === 'string') for (const m of mimeTypesFile(values.mimetypes)) argv.push('--mime', m);
  if (values.T !== undefined) mode.title = String(values.T);
  if (values.o !== undefined) mode.notes.push('-o: sluice opens no browser');
  if (values.U !== undefined || values['log-ip'] !== undefined)
    mode.notes.push("-U, --log-ip: sluice's log lines always carry the client's address and the time with its offset");
  if (values.websocket !== undefined && values.P === undefined) mode.notes.push('--websocket without -P changes nothing');
}

/** The options sluice's flags gave, with the mode's set over them. */
export function withMode(options: ServerOptions, mode: HttpServerMode): ServerOptions {
  const { upgrades, ...overrides } = mode.overrides;
  const out: ServerOptions = { ...options, ...overrides };
  if (upgrades === false && typeof out.proxy === 'object' && !(out.proxy instanceof URL)) out.proxy = { ...out.proxy, upgrades: false };
  return out;
}

/** http-server's command line and environment as sluice's (see the README's http-server mode). */
export function httpServerMode(args: readonly string[], env: NodeJS.ProcessEnv): HttpServerMode {
  const { values, positionals } = parseHttpServerArgs(args);
  for (const name of Object.keys(values)) if (REFUSED[name] !== undefined) throw new UsageError(`--${name} is not supported: ${REFUSED[name]}`);
  const argv = [rootOf(positionals)];
  const mode: HttpServerMode = { argv, overrides: {}, notes: [], passphrase: env.NODE_HTTP_SERVER_SSL_PASSPHRASE };
  if (values.h === true || values.v === true) return { ...mode, argv: [values.h === true ? '--help' : '--version'] };
  portFlag(values, env, argv);
  // http-server: listings and index pages on, dotfiles served, no on-the-fly compression, front door as sluice has it.
  if (!isFalse(values.d ?? true)) argv.push('--listing');
  if (isFalse(values.i ?? true)) argv.push('--no-index');
  argv.push('--dotfiles', isFalse(values.dotfiles ?? true) ? 'ignore' : 'allow', '--no-compress', '--symlinks', 'follow');
  if (!(values.s === true || values.s === 'true')) argv.push('--log');
  const codings = [...(values.b === true ? ['br' as const] : []), ...(values.g === true ? ['gzip' as const] : [])];
  mode.overrides.precompressed = codings;
  const ext = values.e;
  if (ext !== undefined) {
    const e = ext === true ? 'html' : String(ext).replace(/^\./, '');
    if (!/^[^./\s]+$/.test(e)) throw new UsageError(`invalid -e '${String(ext)}' (expected an extension such as html)`);
    mode.overrides.extensions = [e];
  }
  cacheFlag(str(values, 'c'), argv, mode.overrides);
  timeoutFlag(str(values, 't'), argv);
  tlsFlags(values, argv);
  corsFlag(values.cors as string | boolean | undefined, argv);
  if (values.P !== undefined) {
    const target = typeof values.P === 'string' ? proxyTarget(values.P) : 'a URL is needed';
    if (typeof target === 'string') throw new UsageError(`invalid -P ${target}`);
    argv.push('--proxy', values.P as string);
    // As http-server: upgrades are forwarded only with --websocket.
    if (values.websocket === undefined || isFalse(values.websocket)) mode.overrides.upgrades = false;
  }
  smallFlags(values, argv, mode);
  if (values['front-door'] !== undefined) argv.push(isFalse(values['front-door']) ? '--no-front-door' : '--front-door');
  mode.overrides.intercept = intercepts(values, env);
  return mode;
}
