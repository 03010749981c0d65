// Which peers are proxies whose word on the client's address is believed
// (--trust-proxy), and the client address a request's X-Forwarded-For or
// Forwarded then gives: walked from the nearest hop back, stopping at the
// first address that is not a trusted proxy, as Express's `trust proxy`
// walks it. Only the access log reads it.
import { BlockList, isIP } from 'node:net';

/** Named ranges: `loopback` and, as Express names them, `linklocal` and `uniquelocal`. */
const NAMED: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** The trust list could not be read: `message` says which item and why. */
export class TrustListError extends Error {}

/** `::ffff:10.0.0.1` as the IPv4 address it stands for; anything else as it is. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m === null ? address : m[1];
}

export class ProxyTrust {
  private readonly list = new BlockList();

  /** `items`: addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`) and the names in NAMED. */
  constructor(items: readonly string[]) {
    for (const item of items) {
      for (const range of NAMED[item.toLowerCase()] ?? [item]) this.add(range, item);
    }
  }

  private add(range: string, item: string): void {
    const [address, prefix, ...rest] = range.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) throw new TrustListError(`'${item}' is not an address, a CIDR range or loopback, linklocal, uniquelocal`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) return this.list.addAddress(address, type);
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128)) throw new TrustListError(`'${item}' has a bad prefix length`);
    this.list.addSubnet(address, bits, type);
  }

  trusts(address: string): boolean {
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address for a request from `peer`: the peer itself unless
   * it is trusted, then each hop the headers name, nearest first, until one
   * is not trusted (or the list ends).
   */
  clientOf(peer: string | undefined, headers: { forwarded?: string | string[]; 'x-forwarded-for'?: string | string[] }): string | undefined {
    if (peer === undefined || !this.trusts(peer)) return peer;
    const forwarded = joined(headers.forwarded);
    const hops = forwarded !== undefined ? forwardedFor(forwarded) : (joined(headers['x-forwarded-for'])?.split(',') ?? []).map((h) => h.trim());
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i];
      if (hop === '') break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** RFC 7239's `for=` of each element, in order, without quotes, brackets or ports (`unknown` and obfuscated names kept as they are). */
export function forwardedFor(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(',')) {
    const pair = element
      .split(';')
      .map((p) => p.trim())
      .find((p) => p.slice(0, 4).toLowerCase() === 'for=');
    if (pair === undefined) continue;
    const node = pair.slice(4).replace(/^"(.*)"$/, '$1');
    const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
    const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(node);
    out.push(v6 !== null ? v6[1] : v4 !== null ? v4[1] : node);
  }
  return out;
}
