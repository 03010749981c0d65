import { strict as assert } from 'node:assert';
import { forwardedFor, ProxyTrust, TrustListError } from '../../server/src/trust-proxy';

describe('ProxyTrust', () => {
  it('should trust addresses, CIDR ranges and the named ranges, IPv4-mapped included', () => {
    const trust = new ProxyTrust(['loopback', '10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    for (const a of ['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1', '10.255.0.1', '2001:db8::42', '192.0.2.1']) assert.ok(trust.trusts(a), a);
    for (const a of ['192.0.2.2', '11.0.0.1', '2001:db9::1', '::ffff:11.0.0.1', 'unknown', '']) assert.ok(!trust.trusts(a), a);
    assert.ok(new ProxyTrust(['uniquelocal']).trusts('172.20.1.1'));
    assert.ok(new ProxyTrust(['linklocal']).trusts('fe80::1'));
  });

  it('should refuse what is not an address, a range or a name', () => {
    for (const item of ['localhost', '10.0.0.0/33', '::/129', '10.0.0.0/8/1', '10.0.0.0/x', '']) {
      assert.throws(() => new ProxyTrust([item]), TrustListError, item);
    }
  });

  it('should walk X-Forwarded-For from the nearest hop, stopping at the first untrusted one', () => {
    const trust = new ProxyTrust(['loopback', '10.0.0.0/8']);
    assert.equal(trust.clientOf('127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }), '203.0.113.7');
    assert.equal(trust.clientOf('127.0.0.1', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.1.1.1' }), '203.0.113.7');
    assert.equal(trust.clientOf('127.0.0.1', { 'x-forwarded-for': ['10.0.0.9', '10.1.1.1'] }), '10.0.0.9');
    assert.equal(trust.clientOf('127.0.0.1', {}), '127.0.0.1');
    // An untrusted peer's claims are not believed.
    assert.equal(trust.clientOf('198.51.100.9', { 'x-forwarded-for': '1.2.3.4' }), '198.51.100.9');
    assert.equal(trust.clientOf(undefined, { 'x-forwarded-for': '1.2.3.4' }), undefined);
  });

  it('should prefer Forwarded, reading its for= nodes', () => {
    const trust = new ProxyTrust(['loopback']);
    assert.equal(trust.clientOf('::1', { forwarded: 'for="[2001:db8::1]:4711";proto=https', 'x-forwarded-for': '1.2.3.4' }), '2001:db8::1');
    assert.equal(trust.clientOf('::1', { forwarded: 'for=192.0.2.60:80;by=203.0.113.43, For=127.0.0.1' }), '192.0.2.60');
    assert.deepEqual(forwardedFor('proto=http, for=unknown, for=_hidden;by=x, for="198.51.100.17"'), ['unknown', '_hidden', '198.51.100.17']);
  });
});
