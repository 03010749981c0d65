// A self-signed certificate for 127.0.0.1/localhost, made at test time with
// openssl (no key material is checked in). null, with the reason, when
// openssl is missing or fails.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scratchDir } from './fixtures';

export interface TestCert {
  key: Buffer;
  cert: Buffer;
}

let made: { cert: TestCert | null; reason: string } | null = null;

export function testCert(): { cert: TestCert | null; reason: string } {
  if (made) return made;
  const dir = scratchDir();
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'pipe', timeout: 20_000 },
    );
    made = { cert: { key: fs.readFileSync(keyPath), cert: fs.readFileSync(certPath) }, reason: '' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    made = { cert: null, reason: e.code === 'ENOENT' ? 'openssl is not installed' : `openssl failed: ${String(e.stderr ?? e.message).trim()}` };
  }
  return made;
}
