// The standalone handler's heads, built once per file version. When no one
// else can see the response (no header set before ours, no setHeaders, no
// middleware, nothing wrapping it), a file's head is the same bytes on every
// request, so it is kept as the flat [name, value, …] list writeHead()
// takes, instead of five to seven setHeader() calls per request, each one
// validating, lower-casing and storing a field that is read once.
//
// Node writes a head given this way without keeping its fields as headers:
// res.getHeader() afterwards does not see them (as with sirv, which also
// answers with writeHead(status, headers)). Under middleware and Fastify
// the same cached fields are set one by one with setHeader() (setFields),
// where every field stays readable; a setHeaders option or a header set
// before ours takes send's field-by-field path instead.
import type { OpenFile } from './file-table';
import type { ContentCoding } from './negotiate';

/** What the options put in every head (the responder's fixed choices). */
export interface HeadPolicy {
  readonly acceptRanges: boolean;
  readonly cacheControl: string | null;
  readonly lastModified: boolean;
  readonly etag: boolean;
}

/** The values of one version of one representation. */
export interface HeadValues {
  readonly etag: string;
  readonly lastModified: string;
  readonly type: string;
  readonly coding: ContentCoding | null;
  readonly vary: boolean;
  readonly size: number;
}

/** Heads of one representation of one file version, in send's field order. */
export interface FastHeads {
  /** A 200 for the whole file, Content-Length included. */
  readonly whole: string[];
  /** Everything but Content-Length: a 206 adds Content-Range and its own length. */
  readonly partial: string[];
  /** A 304: validators and caching fields, no content metadata (RFC 9110 §15.4.5). */
  readonly notModified: string[];
}

const CODINGS: readonly (ContentCoding | null)[] = [null, 'br', 'zstd', 'gzip'];

/**
 * Heads kept in each file version's `derived` map, under keys that name the
 * policy: handlers with the same options share a file's heads, handlers
 * with different ones never do, and a handler made per request (wasteful,
 * but seen) adds nothing new to the shared map.
 */
export class FastHeadCache {
  // One key per (coding, vary) pair, made once: no string is built per request.
  private readonly keys: string[];

  constructor(private readonly policy: HeadPolicy) {
    const flags = `${policy.acceptRanges ? 'r' : ''}${policy.lastModified ? 'm' : ''}${policy.etag ? 'e' : ''}`;
    const id = `${flags}|${policy.cacheControl ?? ''}`;
    this.keys = [];
    for (const coding of CODINGS) {
      this.keys.push(`sluice.head|${id}|${coding ?? 'identity'}`, `sluice.head|${id}|${coding ?? 'identity'}|vary`);
    }
  }

  get(file: OpenFile, values: HeadValues): FastHeads {
    const key = this.keys[CODINGS.indexOf(values.coding) * 2 + (values.vary ? 1 : 0)];
    let heads = file.derived.get(key) as FastHeads | undefined;
    if (heads === undefined) {
      heads = buildHeads(this.policy, values);
      file.derived.set(key, heads);
    }
    return heads;
  }
}

function buildHeads(policy: HeadPolicy, v: HeadValues): FastHeads {
  const caching: string[] = [];
  if (policy.acceptRanges) caching.push('Accept-Ranges', 'bytes');
  if (policy.cacheControl !== null) caching.push('Cache-Control', policy.cacheControl);
  if (policy.lastModified) caching.push('Last-Modified', v.lastModified);
  if (policy.etag) caching.push('ETag', v.etag);
  const vary = v.vary ? ['Vary', 'Accept-Encoding'] : [];
  const encoding = v.coding !== null ? ['Content-Encoding', v.coding] : [];
  const partial = [...caching, 'Content-Type', v.type, ...vary, ...encoding];
  return {
    whole: [...partial, 'Content-Length', String(v.size)],
    partial,
    notModified: [...caching, ...vary],
  };
}

/** Sets `fields` ([name, value, …]) as headers: the way back to setHeader when a response turns out to need it. */
export function setFields(res: { setHeader(name: string, value: string): unknown }, fields: readonly string[]): void {
  for (let i = 0; i < fields.length; i += 2) res.setHeader(fields[i], fields[i + 1]);
}
