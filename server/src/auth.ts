// HTTP Basic authentication (RFC 7617) against stored password hashes:
// scrypt through node:crypto, written `scrypt:N:r:p:SALT:HASH` (SALT and
// HASH in base64), or bcrypt (`$2a$`, `$2b$`, `$2y$`, as htpasswd -B and
// most tools write it) through bcryptjs. A password in the clear is taken
// only when it says so (`plain:SECRET`). Hashes are checked off the event
// loop's hot path (scrypt on libuv's thread pool, bcryptjs in slices), and
// a header that passed is remembered (a hash of it, bounded), so a browser
// that sends the same credentials with every request pays the hash once.
import * as crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The `auth` option: user name → hash, and the realm browsers show. */
export interface AuthOption {
  users: Record<string, string>;
  /** Default 'sluice'. */
  realm?: string;
}

type Verify = (password: string) => Promise<boolean>;

/** scrypt's memory is 128·N·r bytes: more than this is refused at start-up. */
const SCRYPT_MAXMEM = 256 * 1024 * 1024;

const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function scryptVerifier(hash: string): Verify | string {
  const parts = hash.split(':');
  if (parts.length !== 6) return 'expected scrypt:N:r:p:SALT:HASH';
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N < 2 || (N & (N - 1)) !== 0) return 'scrypt needs N a power of two, r and p positive';
  if (128 * N * r > SCRYPT_MAXMEM) return `scrypt's N·r needs more than ${SCRYPT_MAXMEM >> 20} MiB`;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (salt.length < 8 || expected.length < 16) return 'scrypt needs a salt of 8 bytes or more and a hash of 16 or more (base64)';
  return (password) =>
    new Promise((resolve) => {
      crypto.scrypt(password, salt, expected.length, { N, r, p, maxmem: SCRYPT_MAXMEM + 1024 * 1024 }, (err, key) =>
        resolve(err === null && sameBytes(key, expected)),
      );
    });
}

/** A hash as a verifier, or why it is refused. */
export function verifierFor(hash: string): Verify | string {
  if (hash.startsWith('scrypt:')) return scryptVerifier(hash);
  if (BCRYPT.test(hash)) {
    // bcryptjs loads with the first bcrypt hash: most servers have none.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bcrypt = require('bcryptjs') as typeof import('bcryptjs');
    return (password) => bcrypt.compare(password, hash);
  }
  if (hash.startsWith('plain:')) {
    const secret = crypto.createHash('sha256').update(hash.slice('plain:'.length)).digest();
    return async (password) => sameBytes(crypto.createHash('sha256').update(password).digest(), secret);
  }
  return 'expected a scrypt:N:r:p:SALT:HASH or bcrypt ($2b$...) hash; a password in the clear must be written plain:PASSWORD';
}

/** `scrypt:N:r:p:SALT:HASH` for `password` (what `sluice hash-password` prints). */
export function scryptHash(password: string, N = 16384, r = 8, p = 1): string {
  const salt = crypto.randomBytes(16);
  const key = crypto.scryptSync(password, salt, 32, { N, r, p, maxmem: SCRYPT_MAXMEM });
  return `scrypt:${N}:${r}:${p}:${salt.toString('base64')}:${key.toString('base64')}`;
}

/** Headers that passed, remembered (as hashes) until this many; then forgotten all at once. */
const MAX_REMEMBERED = 1024;

const AUTHORIZED = new WeakSet<IncomingMessage>();

function refuseOption(message: string): TypeError {
  const err = new TypeError(message);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** The users' credentials and the answer to a request without valid ones. */
export class BasicAuth {
  private readonly users = new Map<string, Verify>();
  private readonly remembered = new Set<string>();
  /** Checks in progress, by header hash. */
  private readonly pending = new Map<string, Promise<boolean>>();
  /** Checked for an unknown user, so its answer takes as long as a known one's. */
  private readonly decoy: Verify;
  readonly challenge: string;

  constructor(opts: AuthOption) {
    for (const [user, hash] of Object.entries(opts.users)) {
      if (user === '' || user.includes(':')) throw refuseOption(`The "auth" option's user names must be non-empty, without ':'. Received '${user}'`);
      const verify = typeof hash === 'string' ? verifierFor(hash) : 'expected a string';
      if (typeof verify === 'string') throw refuseOption(`The "auth" option's hash for '${user}' is refused (${verify})`);
      this.users.set(user, verify);
    }
    if (this.users.size === 0) throw refuseOption('The "auth" option must name at least one user');
    this.decoy = this.users.values().next().value as Verify;
    const realm = opts.realm ?? 'sluice';
    if (typeof realm !== 'string' || !/^[\x20-\x7e]*$/.test(realm) || /["\\]/.test(realm)) {
      throw refuseOption(`The "auth" option's realm must be printable ASCII without quotes or backslashes. Received ${String(realm)}`);
    }
    this.challenge = `Basic realm="${realm}", charset="UTF-8"`;
  }

  /**
   * Calls `pass()` once `req` carries valid credentials (at once when this
   * header passed before), else answers 401 with `fields` (the everywhere
   * fields) and the challenge.
   */
  check(req: IncomingMessage, res: ServerResponse, fields: readonly string[], pass: () => void, refusing?: () => void): void {
    if (AUTHORIZED.has(req)) return pass();
    const header = req.headers.authorization;
    const key = header === undefined ? '' : crypto.createHash('sha256').update(header).digest('base64');
    if (key !== '' && this.remembered.has(key)) {
      AUTHORIZED.add(req);
      return pass();
    }
    const given = parseBasic(header);
    if (given === null) return this.refuse(res, fields, refusing);
    void this.verifying(key, given).then(
      (ok) => {
        if (!ok) return this.refuse(res, fields, refusing);
        AUTHORIZED.add(req);
        pass();
      },
      () => this.refuse(res, fields, refusing),
    );
  }

  /**
   * Whether `given` is a user's valid credentials. Requests with the same
   * header that arrive while it is checked (a browser's parallel
   * connections, a load test) wait for that one check.
   */
  private verifying(key: string, given: { user: string; password: string }): Promise<boolean> {
    const pending = this.pending.get(key);
    if (pending !== undefined) return pending;
    const verify = this.users.get(given.user);
    const check = (verify ?? this.decoy)(given.password).then((ok) => {
      const valid = ok && verify !== undefined;
      if (valid) {
        if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
        this.remembered.add(key);
      }
      return valid;
    });
    this.pending.set(key, check);
    const forget = (): void => void this.pending.delete(key);
    check.then(forget, forget);
    return check;
  }

  private refuse(res: ServerResponse, fields: readonly string[], refusing?: () => void): void {
    if (res.headersSent || res.destroyed) return;
    refusing?.();
    const body = 'Unauthorized\n';
    res.statusCode = 401;
    for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
    res.setHeader('WWW-Authenticate', this.challenge);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(res.req?.method === 'HEAD' ? undefined : body);
  }
}

/** `Basic dXNlcjpwYXNz` as user and password, or null. */
function parseBasic(header: string | undefined): { user: string; password: string } | null {
  const m = header === undefined ? null : /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (m === null) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The `auth` option checked, or null when off. */
export function basicAuth(value: unknown): BasicAuth | null {
  if (value === undefined || value === false || value === null) return null;
  if (typeof value !== 'object' || typeof (value as AuthOption).users !== 'object' || (value as AuthOption).users === null) {
    throw refuseOption(`The "auth" option must be { users: { name: hash }, realm? } or false. Received ${String(value)}`);
  }
  return new BasicAuth(value as AuthOption);
}
