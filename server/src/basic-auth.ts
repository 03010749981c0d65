// HTTP Basic authentication against one user name and password, as
// http-server's --username/--password check it: both compared in constant
// time, a 401 with `WWW-Authenticate: Basic realm=""` otherwise.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Equal in time independent of where they differ (both hashed first, so lengths leak nothing). */
function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** The user and password of an `Authorization: Basic` field, or null. */
export function basicCredentials(header: string | undefined): { user: string; pass: string } | null {
  const m = /^ *basic +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header ?? '');
  if (m === null) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? null : { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

/**
 * A request gate: true when it answered (401), false when the request
 * carries the user and password and may go on.
 */
export function basicAuthGate(user: string, pass: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const given = basicCredentials(req.headers.authorization);
    // Both compared whatever the first gives, so timing tells nothing about either.
    const userOk = sameSecret(given?.user ?? '', user);
    const passOk = sameSecret(given?.pass ?? '', pass);
    if (given !== null && userOk && passOk) return false;
    const body = 'Access denied';
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm=""', 'Content-Type': 'text/plain', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
