// The http-server mode's Basic authentication: parsing the field, and the
// gate's answer.
import { strict as assert } from 'node:assert';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basicAuthGate, basicCredentials } from '../../server/src/basic-auth';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function fakeExchange(authorization?: string) {
  const written: { status?: number; headers?: Record<string, unknown>; body?: unknown } = {};
  const req = { headers: authorization === undefined ? {} : { authorization }, method: 'GET' } as unknown as IncomingMessage;
  const res = {
    writeHead(status: number, headers: Record<string, unknown>) {
      written.status = status;
      written.headers = headers;
    },
    end(body?: unknown) {
      written.body = body;
    },
  } as unknown as ServerResponse;
  return { req, res, written };
}

describe('basic auth', () => {
  it('should read user and password (a colon in the password kept)', () => {
    assert.deepEqual(basicCredentials(`Basic ${b64('ann:a:b')}`), { user: 'ann', pass: 'a:b' });
    assert.deepEqual(basicCredentials(`basic  ${b64('ann:')}`), { user: 'ann', pass: '' });
  });

  it('should take nothing else as credentials', () => {
    for (const value of [undefined, '', 'Bearer abc', `Basic ${b64('no-colon')}`, 'Basic !!!']) assert.equal(basicCredentials(value), null, String(value));
  });

  it('should let the right user and password through and answer 401 to anything else', () => {
    const gate = basicAuthGate('ann', 's3cret');
    assert.equal(gate(fakeExchange(`Basic ${b64('ann:s3cret')}`).req, fakeExchange().res), false);
    for (const value of [undefined, `Basic ${b64('ann:wrong')}`, `Basic ${b64('bob:s3cret')}`, `Basic ${b64('ann:s3cret2')}`]) {
      const x = fakeExchange(value);
      assert.equal(gate(x.req, x.res), true, String(value));
      assert.equal(x.written.status, 401);
      assert.equal(x.written.headers?.['WWW-Authenticate'], 'Basic realm=""');
      assert.equal(x.written.body, 'Access denied');
    }
  });
});
