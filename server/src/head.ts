// The head of a file response: the values a file version gives (type,
// validators), the fields the options put in every head, and the only code
// that writes a file response's head.
//
// One field list, two ways to write it. Where nothing else can see or change
// the response (the standalone handler: no middleware, no framework, no
// header set before ours, nothing wrapping res.write), the list goes to
// writeHead(status, list) as is: a version's head is then the same bytes on
// every request and is built once, instead of five to seven setHeader()
// calls per request. Node writes a head given this way without keeping its
// fields as headers, so res.getHeader() afterwards does not see them (as
// with sirv). Everywhere else the same fields are set one by one with
// setHeader(), where middleware, hooks and wrappers can read them, on the
// response or on what a framework keeps them in until it writes the head
// (Fastify's reply: a HeaderTarget).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import * as path from 'node:path';
import * as mime from 'mime-types';
import type { FileVersion, HeadLists } from './file-table';
import type { ContentCoding } from './negotiate';

/** Content-Type for a file name, with a charset for text types. */
export function contentTypeFor(filePath: string): string {
  return mime.contentType(path.extname(filePath)) || 'application/octet-stream';
}

/**
 * Weak ETag from size and mtime, the same value the `etag` package (and so
 * send/serve-static) gives for a Stats, so caches keep validating across a
 * switch to sluice. It reads `stat.mtime.getTime()`, which Node rounds from
 * mtimeMs to the nearest millisecond.
 */
export function weakEtag(stat: { size: number; mtimeMs: number }): string {
  return `W/"${stat.size.toString(16)}-${Math.round(stat.mtimeMs).toString(16)}"`;
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Cache-Control value for a max-age in milliseconds (send's rounding). */
export function cacheControlValue(maxAgeMs: number, immutable: boolean): string {
  const seconds = Math.floor(maxAgeMs / 1000);
  return `public, max-age=${seconds}${immutable ? ', immutable' : ''}`;
}

/** Content-Range for a satisfied range. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** What the options put in every head (the responder's fixed choices). */
export interface HeadPolicy {
  readonly acceptRanges: boolean;
  readonly cacheControl: string | null;
  /** Whether Content-Type comes from the file name (send's `contentType`). */
  readonly contentType: boolean;
  readonly lastModified: boolean;
  readonly etag: boolean;
  /** ETags are content hashes (FileVersion.strongEtag) rather than size-mtime. */
  readonly strongEtag: boolean;
  /** Fields every response carries ([name, value, …]: CORS). */
  readonly extra: readonly string[];
  /** The mimeTypes option's types (they are in the lists, so in the lists' key). */
  readonly types?: TypeOverrides | null;
}

/**
 * One representation: the bytes of `version`, sent as `coding` (a variant)
 * or as they are, for a path whose type is `type`.
 */
export interface Representation {
  readonly version: FileVersion;
  readonly type: string;
  readonly coding: ContentCoding | null;
  /** Whether variants exist, so caches must key on Accept-Encoding. */
  readonly vary: boolean;
  readonly etag: string;
  readonly lastModified: string;
  /** Last-Modified in ms, as preconditions compare it. */
  readonly lastModifiedMs: number;
}

/** Content-Types by extension (lower case, no dot) that replace or add to the built-in ones: the mimeTypes option. */
export type TypeOverrides = ReadonlyMap<string, string>;

/** The Content-Type of a version's path: an override's, else the built-in one, computed once per version. */
export function typeOf(version: FileVersion, overrides: TypeOverrides | null = null): string {
  if (overrides !== null) {
    const type = overrides.get(path.extname(version.path).slice(1).toLowerCase());
    if (type !== undefined) return type;
  }
  return (version.type ??= contentTypeFor(version.path));
}

/**
 * The representation of `original` whose bytes are `version` (the original
 * itself, or its variant in `coding`), its values computed once per version.
 * Validators come from `validated`: the bytes' own file for the original and
 * for a sibling on disk, the source for a variant compressed from it (so
 * every copy of that variant, in any worker or after a rebuild, validates
 * the same).
 */
export function representationOf(
  original: FileVersion,
  version: FileVersion,
  coding: ContentCoding | null,
  vary: boolean,
  validated: FileVersion = version,
  strong = false,
  overrides: TypeOverrides | null = null,
): Representation {
  const type = typeOf(original, overrides);
  // stat.mtime's own rounding, so Last-Modified is send's to the second.
  validated.lastModified ??= httpDate(Math.round(validated.stat.mtimeMs));
  validated.etag ??= weakEtag(validated.stat);
  const lastModified = validated.lastModified;
  if (strong && validated.strongEtag !== null) {
    const base = validated.strongEtag;
    const etag = coding === null ? base : `${base.slice(0, -1)}-${coding}"`;
    return { version, type, coding, vary, etag, lastModified, lastModifiedMs: validated.stat.mtimeMs };
  }
  // A variant's ETag names its coding, so no two representations of one URL
  // ever share a validator.
  if (coding !== null) version.codedEtag ??= `${validated.etag.slice(0, -1)}-${coding}"`;
  const etag = coding === null ? validated.etag : (version.codedEtag as string);
  return { version, type, coding, vary, etag, lastModified: validated.lastModified, lastModifiedMs: validated.stat.mtimeMs };
}

const CODINGS: readonly (ContentCoding | null)[] = [null, 'br', 'zstd', 'gzip'];

/**
 * Head lists kept with each file version under keys that name the policy:
 * handlers with the same options share a version's lists, handlers with
 * different ones never do, and a handler made per request (wasteful, but
 * seen) adds nothing new to the version.
 */
export class HeadCache {
  // One key per (coding, vary) pair, made once: no string is built per request.
  private readonly keys: string[] = [];

  constructor(readonly policy: HeadPolicy) {
    const flags = `${policy.acceptRanges ? 'r' : ''}${policy.lastModified ? 'm' : ''}${policy.etag ? 'e' : ''}${policy.strongEtag ? 's' : ''}${policy.contentType ? 't' : ''}`;
    const types = policy.types ? [...policy.types].join('\n') : '';
    const id = `${flags}|${policy.cacheControl ?? ''}|${policy.extra.join('\n')}|${types}`;
    for (const coding of CODINGS) this.keys.push(`${id}|${coding ?? 'identity'}`, `${id}|${coding ?? 'identity'}|vary`);
  }

  lists(rep: Representation): HeadLists {
    const key = this.keys[CODINGS.indexOf(rep.coding) * 2 + (rep.vary ? 1 : 0)];
    let lists = rep.version.heads.get(key);
    if (lists === undefined) {
      lists = buildLists(this.policy, rep);
      rep.version.heads.set(key, lists);
    }
    return lists;
  }
}

const VARY_HAS_ACCEPT_ENCODING = /(?:^|,)\s*(?:\*|accept-encoding)\s*(?:,|$)/i;

/** The Vary value with Accept-Encoding added, or null when it (or `*`) is already there. */
export function varyWithAcceptEncoding(current: number | string | string[] | undefined): string | null {
  if (current === undefined) return 'Accept-Encoding';
  const value = Array.isArray(current) ? current.join(', ') : String(current);
  if (VARY_HAS_ACCEPT_ENCODING.test(value)) return null;
  return value ? `${value}, Accept-Encoding` : 'Accept-Encoding';
}

/**
 * Two Vary values as one: each field name once (compared case-insensitively,
 * the first spelling kept), and `*` alone when either says `*`.
 */
export function mergeVary(a: string, b: string): string {
  const names = `${a},${b}`
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.includes('*')) return '*';
  const seen = new Set<string>();
  return names.filter((n) => !seen.has(n.toLowerCase()) && seen.add(n.toLowerCase())).join(', ');
}

const NAMES = new WeakMap<readonly string[], ReadonlySet<string>>();

/** The lower-case names of `fields` ([name, value, …]), worked out once per list. */
export function fieldNames(fields: readonly string[]): ReadonlySet<string> {
  let names = NAMES.get(fields);
  if (names === undefined) {
    names = new Set(fields.filter((_f, i) => i % 2 === 0).map((n) => n.toLowerCase()));
    NAMES.set(fields, names);
  }
  return names;
}

/** A file response's fields, and the Content-Type they carry. */
export interface FileFields {
  /** Every field but Content-Length (a 206 adds Content-Range and its own length). */
  readonly fields: readonly string[];
  /** For a 304: the fields without content metadata. */
  readonly notModified: readonly string[];
  readonly type: string;
}

/**
 * The one builder of a file response's header fields, for every path: the
 * version's cached lists (nothing set on the response yet), a response
 * with fields set before sluice's (Express middleware, a Fastify hook:
 * `preset`, and the names a rule removed: `omit`), and so the front door,
 * which sends the head Node's path wrote from these. send's field order:
 * caching fields, then content metadata. Ours go in where nothing was set
 * before and no rule removed them; an extra field (CORS, the headers
 * option) stands in for sluice's own of its name; a Vary, extra or set
 * before, names Accept-Encoding too when variants exist.
 */
export function fileFields(policy: HeadPolicy, rep: Representation, preset: Preset = {}, omit: readonly string[] = []): FileFields {
  const open = (name: string): boolean => preset[name] === undefined && !omit.includes(name);
  const taken = fieldNames(policy.extra);
  const ours = (name: string): boolean => open(name) && !taken.has(name);
  const caching: string[] = [];
  if (policy.acceptRanges && ours('accept-ranges')) caching.push('Accept-Ranges', 'bytes');
  if (policy.cacheControl !== null && ours('cache-control')) caching.push('Cache-Control', policy.cacheControl);
  if (policy.lastModified && ours('last-modified')) caching.push('Last-Modified', rep.lastModified);
  if (policy.etag && ours('etag')) caching.push('ETag', rep.etag);
  for (let i = 0; i < policy.extra.length; i += 2) {
    const name = policy.extra[i].toLowerCase();
    const value = policy.extra[i + 1];
    if (open(name)) caching.push(policy.extra[i], name === 'vary' && rep.vary ? (varyWithAcceptEncoding(value) ?? value) : value);
  }
  const presetType = preset['content-type'];
  const type = presetType === undefined ? rep.type : String(presetType);
  const content = ours('content-type') && policy.contentType ? ['Content-Type', type] : [];
  const vary = rep.vary && !(taken.has('vary') && open('vary')) ? varyWithAcceptEncoding(preset.vary) : null;
  const varyField = vary !== null ? ['Vary', vary] : [];
  const encoding = rep.coding !== null ? ['Content-Encoding', rep.coding] : [];
  return { fields: [...caching, ...content, ...varyField, ...encoding], notModified: [...caching, ...varyField], type };
}

/** The lists a file version keeps: its fields with nothing set on the response before. */
function buildLists(policy: HeadPolicy, rep: Representation): HeadLists {
  const { fields, notModified } = fileFields(policy, rep);
  return { whole: [...fields, 'Content-Length', String(rep.version.size)], partial: fields, notModified };
}

/** Headers already on the response (lower-case names), as res.getHeaders() gives them. */
export type Preset = Readonly<Record<string, number | string | string[] | undefined>>;

/**
 * Where a response's fields are kept until its head is written: the
 * response itself, or a framework's reply (whose headers the framework
 * writes later, after its own hooks).
 */
export interface HeaderTarget {
  statusCode: number;
  getHeaderNames(): string[];
  getHeaders(): OutgoingHttpHeaders;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  removeHeader(name: string): void;
}

/** What is on `target` before sluice adds anything, or null when nothing is. */
export function presetOf(target: HeaderTarget): Preset | null {
  return target.getHeaderNames().length === 0 ? null : target.getHeaders();
}

/** A head to write: status, fields ([name, value, …]), and fields to remove first. */
export interface Head {
  readonly status: number;
  readonly fields: readonly string[];
  /** Lower-case names of headers set earlier that this head must not carry. */
  readonly strip: readonly string[] | null;
}

/**
 * Writes `head`: on `res` as one list (`visible` false: nothing else can
 * see the response), or field by field on `target` (`visible` true).
 */
export function writeHead(res: ServerResponse, target: HeaderTarget, head: Head, visible: boolean): void {
  if (!visible) {
    res.writeHead(head.status, head.fields as string[]);
    return;
  }
  if (head.strip !== null) for (const name of head.strip) target.removeHeader(name);
  target.statusCode = head.status;
  setFields(target, head.fields);
}

/** Sets `fields` ([name, value, …]) as headers, one by one. */
export function setFields(target: HeaderTarget, fields: readonly string[]): void {
  for (let i = 0; i < fields.length; i += 2) target.setHeader(fields[i], fields[i + 1]);
}
