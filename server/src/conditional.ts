/**
 * Conditional requests (RFC 9110 §13): validators × request headers → go on,
 * 304 or 412. Pure: no I/O, and nothing here throws on hostile input.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** As sent in the ETag header: `"abc"` or `W/"abc"`. */
  etag?: string;
  /** ms since the epoch; compared at 1 s precision, the precision of HTTP-date. */
  lastModified?: number;
}

export type Precondition = 'ok' | 'not-modified' | 'precondition-failed';

interface EntityTag {
  weak: boolean;
  opaque: string; // including the double quotes
}

// `fresh` (used by send) treats a request's `Cache-Control: no-cache` as "reload", never 304.
const NO_CACHE = /(?:^|,)[ \t]*no-cache[ \t]*(?:,|$)/i;

/**
 * The RFC 9110 §13.2.2 evaluation order for a representation that exists.
 * Step 5 (If-Range) is separate: see isRangeFresh().
 */
export function evaluatePreconditions(method: string, headers: IncomingHttpHeaders, v: Validators): Precondition {
  const ifMatch = headerValue(headers, 'if-match');
  if (ifMatch !== undefined) {
    // Weak comparison, as send does: sluice's ETags are weak (the same values
    // serve-static sends) yet derived from size and mtime, so treating them as
    // a match here keeps If-Match usable. A deliberate RFC 9110 difference.
    if (!isStar(ifMatch) && !isEtagInList(ifMatch, v.etag, true)) return 'precondition-failed';
  } else if (isModifiedSince(headerValue(headers, 'if-unmodified-since'), v)) {
    return 'precondition-failed';
  }

  const safe = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headerValue(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (!isStar(ifNoneMatch) && !isEtagInList(ifNoneMatch, v.etag, true)) return 'ok';
    if (!safe) return 'precondition-failed';
    return notModified(headers);
  }

  if (safe && isUnmodifiedSince(headerValue(headers, 'if-modified-since'), v)) return notModified(headers);
  return 'ok';
}

/**
 * If-Range (RFC 9110 §13.1.5): true → honour Range; false → send 200 with the
 * whole representation. An entity-tag is compared weakly (see below). A
 * date is accepted when Last-Modified is not later than it, as send does,
 * rather than the RFC's exact equality.
 */
export function isRangeFresh(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value === '') return true;

  if (value.startsWith('"') || value.startsWith('W/')) {
    const tag = parseEntityTag(value, 0);
    if (tag === null || tag.end !== value.length) return false;
    // Weak comparison for the same reason as If-Match above (send does the
    // same): otherwise resumable downloads could never use our ETags.
    return isEtagMatch(tag, v.etag, true);
  }
  return isUnmodifiedSince(value, v);
}

/**
 * Whether `etag` appears in an entity-tag list (`"a", W/"b"`). `weak` selects
 * weak comparison over strong (RFC 9110 §8.8.3.2). sluice itself compares
 * weakly everywhere, If-Match and If-Range included (see above); strong
 * comparison is there for callers that hold strong validators. `*` is not
 * handled here; malformed members are skipped.
 */
export function isEtagInList(list: string, etag: string | undefined, weak: boolean): boolean {
  if (etag === undefined) return false;
  const own = parseEntityTag(etag, 0);
  if (own === null || own.end !== etag.length) return false;

  let i = 0;
  while (i < list.length) {
    i = skipSeparators(list, i);
    const tag = parseEntityTag(list, i);
    if (tag === null) {
      // Skip the malformed member up to the next comma; quoted commas are not a concern here.
      const comma = list.indexOf(',', i);
      if (comma < 0) return false;
      i = comma + 1;
      continue;
    }
    if (isEtagMatch(tag, etag, weak, own)) return true;
    i = tag.end;
  }
  return false;
}

/** Request `Cache-Control: no-cache` asks for an end-to-end reload. */
export function hasNoCache(headers: IncomingHttpHeaders): boolean {
  const cc = headerValue(headers, 'cache-control');
  return cc !== undefined && NO_CACHE.test(cc);
}

/** ms since the epoch, or NaN when `value` is not an HTTP-date. */
export function parseHttpDate(value: string): number {
  return parseImfFixdate(value) ?? parseRfc850(value) ?? parseAsctime(value) ?? NaN;
}

function notModified(headers: IncomingHttpHeaders): Precondition {
  return hasNoCache(headers) ? 'ok' : 'not-modified';
}

/** True when the date is valid and the representation is not newer (If-Modified-Since → 304, If-Range). */
function isUnmodifiedSince(date: string | undefined, v: Validators): boolean {
  const since = date === undefined ? NaN : parseHttpDate(date.trim());
  const modified = lastModifiedSeconds(v);
  return !Number.isNaN(since) && modified !== undefined && modified <= since;
}

/** True when the date is valid and the representation is newer (If-Unmodified-Since → 412). */
function isModifiedSince(date: string | undefined, v: Validators): boolean {
  const since = date === undefined ? NaN : parseHttpDate(date.trim());
  const modified = lastModifiedSeconds(v);
  return !Number.isNaN(since) && modified !== undefined && modified > since;
}

/** Last-Modified truncated to whole seconds, as it goes out in the header. */
function lastModifiedSeconds(v: Validators): number | undefined {
  const lm = v.lastModified;
  return typeof lm === 'number' && Number.isFinite(lm) ? Math.floor(lm / 1000) * 1000 : undefined;
}

/**
 * Weak comparison: opaque-tags equal. Strong: also neither is weak (RFC 9110 §8.8.3.2).
 * `own` is the parsed form of `etag` when the caller already has it.
 */
function isEtagMatch(tag: EntityTag, etag: string | undefined, weak: boolean, own?: EntityTag | null): boolean {
  if (etag === undefined) return false;
  const ours = own ?? parseEntityTag(etag, 0);
  if (ours === null || tag.opaque !== ours.opaque) return false;
  return weak || (!tag.weak && !ours.weak);
}

/** `[W/]"etagc*"` starting at `i`; returns where it ends, or null. etagc allows commas. */
function parseEntityTag(s: string, i: number): (EntityTag & { end: number }) | null {
  let weak = false;
  if (s.startsWith('W/', i)) {
    weak = true;
    i += 2;
  }
  if (s.charCodeAt(i) !== 0x22) return null;
  const close = s.indexOf('"', i + 1);
  if (close < 0) return null;
  const opaque = s.slice(i, close + 1);
  if (!isEtagChars(opaque)) return null;
  return { weak, opaque, end: close + 1 };
}

// etagc = %x21 / %x23-7E / obs-text; the quotes are the first and last characters.
function isEtagChars(opaque: string): boolean {
  for (let i = 1; i < opaque.length - 1; i++) {
    const c = opaque.charCodeAt(i);
    if (c < 0x21 || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

function skipSeparators(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x2c) break;
    i++;
  }
  return i;
}

function isStar(value: string): boolean {
  return value.trim() === '*';
}

/**
 * A header as one string, or undefined when absent or blank: send ignores an
 * empty conditional header, and so do we. Node joins repeated list headers.
 */
function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw: unknown = headers[name];
  const value = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join(', ') : undefined;
  return value === undefined || value.trim() === '' ? undefined : value;
}

// HTTP-date (RFC 9110 §5.6.7): three formats, case-sensitive, always GMT.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

// `Sun, 06 Nov 1994 08:49:37 GMT` — the preferred format, and what we send.
function parseImfFixdate(s: string): number | undefined {
  const m = IMF_FIXDATE.exec(s);
  return m ? toTime(+m[3], m[2], +m[1], m[4], m[5], m[6]) : undefined;
}

// `Sunday, 06-Nov-94 08:49:37 GMT` — two-digit years more than 50 years ahead are in the past.
function parseRfc850(s: string): number | undefined {
  const m = RFC850_DATE.exec(s);
  if (!m) return undefined;
  const thisYear = new Date().getUTCFullYear();
  let year = thisYear - (thisYear % 100) + Number(m[3]);
  if (year > thisYear + 50) year -= 100;
  return toTime(year, m[2], +m[1], m[4], m[5], m[6]);
}

// `Sun Nov  6 08:49:37 1994` — C's asctime().
function parseAsctime(s: string): number | undefined {
  const m = ASCTIME_DATE.exec(s);
  return m ? toTime(+m[6], m[1], +m[2].trim(), m[3], m[4], m[5]) : undefined;
}

/** Builds the timestamp, rejecting out-of-range fields instead of letting Date roll them over. */
function toTime(year: number, month: string, day: number, hh: string, mm: string, ss: string): number {
  const monthIndex = MONTHS.indexOf(month);
  const h = Number(hh);
  const min = Number(mm);
  const sec = Number(ss);
  if (h > 23 || min > 59 || sec > 60) return NaN;
  // setUTCFullYear, not Date.UTC, so that years 0–99 are not read as 1900–1999.
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  if (d.getUTCMonth() !== monthIndex || d.getUTCDate() !== day) return NaN;
  d.setUTCHours(h, min, sec, 0);
  return d.getTime();
}
