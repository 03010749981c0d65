// Scraping /metrics and reading it with a Prometheus text-format parser
// (parse-prometheus-text-format, a port of the Prometheus Python client's).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Client, request } from 'undici';

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the package ships no types
const parseText = require('parse-prometheus-text-format') as (text: string) => Family[];

/** The families at `url`, parsed; the response's content type alongside. */
export async function scrape(url: string): Promise<{ families: Map<string, Family>; contentType: string; text: string }> {
  const res = await request(url);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${text}`);
  const families = new Map(parseText(text).map((f) => [f.name, f]));
  return { families, contentType: String(res.headers['content-type']), text };
}

function family(families: Map<string, Family>, name: string): Family {
  const f = families.get(name);
  if (f === undefined) throw new Error(`no metric ${name} in the scrape`);
  return f;
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v);
}

/** The sum of `name`'s samples whose labels include `labels` (0 when none does). */
export function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  return family(families, name)
    .metrics.filter((s) => matches(s, labels))
    .reduce((sum, s) => sum + Number(s.value), 0);
}

/** A histogram's count, sum and buckets. */
export function histogram(families: Map<string, Family>, name: string): { count: number; sum: number; buckets: Record<string, number> } {
  const f = family(families, name);
  const s = f.metrics[0] ?? {};
  const buckets = Object.fromEntries(Object.entries(s.buckets ?? {}).map(([le, v]) => [le, Number(v)]));
  return { count: Number(s.count), sum: Number(s.sum), buckets };
}

/** A site whose traffic has known sizes: small files, a precompressed script, a large file for a range. */
export interface MetricsSite {
  root: string;
  smallSize: number;
  brSize: number;
  rangeLength: number;
}

export function makeMetricsSite(root: string): MetricsSite {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'small.txt'), Buffer.alloc(1024, 'a'));
  const js = Buffer.from(`${'console.log("sluice");\n'.repeat(100)}`);
  fs.writeFileSync(path.join(root, 'app.js'), js);
  const br = zlib.brotliCompressSync(js);
  fs.writeFileSync(path.join(root, 'app.js.br'), br);
  fs.writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(300_000, 'b'));
  return { root, smallSize: 1024, brSize: br.length, rangeLength: 100_000 };
}

/**
 * `n` GETs of small.txt over `connections` kept-alive connections, one GET
 * of app.js that accepts br, and one range of big.bin (not a plain request:
 * Node answers it, with the front door on too). Resolves with the body bytes received.
 */
export async function knownTraffic(base: string, n: number, connections = 1): Promise<number> {
  const clients = Array.from({ length: connections }, () => new Client(base, { pipelining: 0 }));
  let bytes = 0;
  const get = async (client: Client, p: string, headers: Record<string, string> = {}): Promise<number> => {
    const res = await client.request({ method: 'GET', path: p, headers });
    const body = Buffer.from(await res.body.arrayBuffer());
    return body.length;
  };
  await Promise.all(
    clients.map(async (client, i) => {
      for (let k = i; k < n; k += connections) {
        const got = await get(client, '/small.txt');
        bytes += got;
      }
    }),
  );
  const first = clients[0] as Client;
  bytes += await get(first, '/app.js', { 'accept-encoding': 'br' });
  const ranged = await get(first, '/big.bin', { range: 'bytes=0-99999' });
  bytes += ranged;
  await Promise.all(clients.map((c) => c.close()));
  return bytes;
}
