// What to answer for one representation, decided before any byte is
// written: preconditions, Range × If-Range, and the head's fields. Pure: it
// reads its input and returns a Plan; it touches no socket and no response
// (as Go's checkPreconditions answers before any body exists).
import type { IncomingHttpHeaders } from 'node:http';
import { fileBody, type Body } from './body';
import { evaluatePreconditions, isRangeFresh, type Validators } from './conditional';
import type { HeadLists } from './file-table';
import { contentRange, fileFields, type Head, type HeadPolicy, type Preset, type Representation } from './head';
import { multipartBody } from './multipart';
import { parseRange } from './range';

export interface PlanInput {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The response's status so far (earlier middleware may have set one). */
  readonly status: number;
  readonly rep: Representation;
  /**
   * The version's cached head lists when nothing was set on the response
   * before ours (`preset` null); with a preset they are not used.
   */
  readonly lists: HeadLists | null;
  readonly preset: Preset | null;
  /** Lower-case names of fields sluice must not add (header rules that remove them); with any, `preset` is non-null. */
  readonly omit?: readonly string[];
}

export interface PlanOptions {
  readonly policy: HeadPolicy;
  readonly maxRanges: number;
  /**
   * serve's reading of a Range it cannot satisfy (an inverted `bytes=10-1`
   * included): 416 with Content-Range, and the whole file as its body.
   */
  readonly unsatisfiableWithBody?: boolean;
}

/** A refusal (412, 416) that goes the error path: an error page or next(err). */
export interface Refusal {
  readonly kind: 'refuse';
  readonly status: number;
  /** Fields the refusal itself carries (Content-Range on a 416). */
  readonly headers: Record<string, string> | undefined;
  /** The representation's fields: under middleware they are on the response next(err) sees, as with send. */
  readonly fields: readonly string[];
}

/** A response to write: its head, and its body (null: none, for HEAD, 304 and empty files). */
export interface Answer {
  readonly kind: 'answer';
  readonly head: Head;
  readonly body: Body | null;
}

export type Plan = Refusal | Answer;

/** Content metadata a 304 must not carry (RFC 9110 §15.4.5). */
const CONTENT_FIELDS: readonly string[] = ['content-encoding', 'content-language', 'content-length', 'content-range', 'content-type'];

/** The fields of a representation, and the validators and type the request is judged by. */
interface Fields {
  readonly fields: readonly string[];
  /** For a 304: the fields without content metadata. */
  readonly notModified: readonly string[];
  readonly validators: Validators;
  readonly type: string;
}

export function plan(input: PlanInput, opts: PlanOptions): Plan {
  const f =
    input.lists !== null ? cachedFields(input.lists, input.rep, opts.policy) : presetFields(input.preset ?? {}, input.rep, opts.policy, input.omit ?? []);
  const { headers } = input;
  if (
    headers['if-match'] !== undefined ||
    headers['if-unmodified-since'] !== undefined ||
    headers['if-none-match'] !== undefined ||
    headers['if-modified-since'] !== undefined
  ) {
    const outcome = evaluatePreconditions(input.method, headers, f.validators);
    if (outcome === 'precondition-failed') return refusal(412, undefined, f);
    // send: a status set by earlier middleware that is not 2xx is sent as is, never as 304.
    if (outcome === 'not-modified' && isCacheable(input.status)) {
      return answer(304, f.notModified, input.lists === null ? CONTENT_FIELDS : null, null);
    }
  }
  if (opts.policy.acceptRanges && headers.range !== undefined) {
    const ranged = planRange(input, opts, f);
    if (ranged !== null) return ranged;
  }
  const size = input.rep.version.size;
  const fields = input.lists !== null ? input.lists.whole : [...f.fields, 'Content-Length', String(size)];
  return answer(input.status, fields, null, bodyFor(input, 0, size));
}

/** A 206 or 416 for the request's Range, or null to send the whole representation. */
function planRange(input: PlanInput, opts: PlanOptions, f: Fields): Plan | null {
  const { rep } = input;
  const size = rep.version.size;
  const lenient = opts.unsatisfiableWithBody === true;
  const range = parseRange(input.headers.range, size, { maxRanges: opts.maxRanges, invertedIsEmpty: lenient });
  if (range.kind === 'none' || !isRangeFresh(headerString(input.headers['if-range']), f.validators)) return null;
  if (range.kind === 'unsatisfiable') {
    if (!lenient) return refusal(416, { 'Content-Range': `bytes */${size}` }, f);
    return answer(416, [...f.fields, 'Content-Range', `bytes */${size}`, 'Content-Length', String(size)], null, bodyFor(input, 0, size));
  }
  const ranges = range.ranges;
  if (ranges.length === 1) {
    const { start, end } = ranges[0];
    const length = end - start + 1;
    return answer(206, [...f.fields, 'Content-Range', contentRange(start, end, size), 'Content-Length', String(length)], null, bodyFor(input, start, length));
  }
  // Several ranges of a compressed variant are answered with the whole
  // variant: what Content-Encoding would mean across parts is unclear.
  if (rep.coding !== null) return null;
  const version = rep.version;
  const multipart = multipartBody(version.fd, ranges, size, f.type, version);
  const fields = [...withField(f.fields, 'Content-Type', multipart.contentType), 'Content-Length', String(multipart.body.length)];
  return answer(206, fields, null, input.method === 'HEAD' ? null : multipart.body);
}

function answer(status: number, fields: readonly string[], strip: readonly string[] | null, body: Body | null): Answer {
  return { kind: 'answer', head: { status, fields, strip }, body };
}

function refusal(status: number, headers: Record<string, string> | undefined, f: Fields): Refusal {
  return { kind: 'refuse', status, headers, fields: f.fields };
}

function bodyFor(input: PlanInput, offset: number, length: number): Body | null {
  if (input.method === 'HEAD' || length === 0) return null;
  const version = input.rep.version;
  return fileBody(version.fd, offset, length, version);
}

/** Nothing set before ours: the cached lists, and validators straight from the version. */
function cachedFields(lists: HeadLists, rep: Representation, policy: HeadPolicy): Fields {
  const validators: Validators = {};
  if (policy.lastModified) validators.lastModified = rep.lastModifiedMs;
  if (policy.etag) validators.etag = rep.etag;
  return { fields: lists.partial, notModified: lists.notModified, validators, type: rep.type };
}

/**
 * send's order when headers were set before ours (middleware, setHeaders):
 * theirs stand, ours go in only where they set none, and the validators the
 * request is judged by are the ones the response will carry.
 */
function presetFields(preset: Preset, rep: Representation, policy: HeadPolicy, omit: readonly string[]): Fields {
  const { fields, notModified, type } = fileFields(policy, rep, preset, omit);
  // The validators the request is judged by: those set before sluice's, else its own.
  const etag = typeof preset.etag === 'string' ? preset.etag : policy.etag && !omit.includes('etag') ? rep.etag : undefined;
  const lastModified = preset['last-modified'];
  const validators: Validators = {};
  if (etag !== undefined) validators.etag = etag;
  if (typeof lastModified === 'string') validators.lastModified = Date.parse(lastModified);
  else if (policy.lastModified) validators.lastModified = rep.lastModifiedMs;
  return { fields, notModified, validators, type };
}

/** `fields` with `name` set to `value`: in place if present (setHeader keeps a field's position), else appended. */
function withField(fields: readonly string[], name: string, value: string): string[] {
  const out = [...fields];
  const at = out.findIndex((f, i) => i % 2 === 0 && f.toLowerCase() === name.toLowerCase());
  if (at >= 0) out[at + 1] = value;
  else out.push(name, value);
  return out;
}

function isCacheable(status: number): boolean {
  return (status >= 200 && status < 300) || status === 304;
}

export function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
