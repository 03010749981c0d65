/**
 * Range header × file size → what to send (RFC 9110 §14). Pure: no I/O.
 *
 * Anything we cannot understand degrades to 'none' (a 200 with the whole
 * file), which is always a correct answer to a Range request; only a header
 * we fully parsed and found to select no byte gives 416.
 */

/** Inclusive byte offsets, as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeResult =
  // No header, malformed, another unit, or too many parts: send 200 with the whole file.
  | { kind: 'none' }
  // Well formed but selects nothing: 416 with `Content-Range: bytes */size`.
  | { kind: 'unsatisfiable' }
  // Sorted, coalesced, clamped to the file: 206 (one) or multipart/byteranges (several).
  | { kind: 'ranges'; ranges: ByteRange[] };

export interface RangeOptions {
  /** More ranges than this after coalescing → 'none' (nginx max_ranges). 0 disables ranges. */
  maxRanges?: number;
  /**
   * Read an inverted part (`bytes=10-1`) as one that selects nothing (so a
   * header of only such parts is 416), as the range-parser package does,
   * instead of as malformed (the header ignored, RFC 9110 §14.1.1).
   */
  invertedIsEmpty?: boolean;
}

export const DEFAULT_MAX_RANGES = 50;

/**
 * Comma-separated parts we are willing to look at. Node caps a header at
 * 16 KiB, which still allows thousands of parts; with more than this many we
 * answer 200 without parsing, so a hostile header costs one comma scan.
 */
export const MAX_RANGE_PARTS = 1000;

const NONE: RangeResult = Object.freeze({ kind: 'none' });
const UNSATISFIABLE: RangeResult = Object.freeze({ kind: 'unsatisfiable' });

// Range unit with optional whitespace around it (unit names are case-insensitive).
const BYTES_UNIT = /^[ \t]*bytes[ \t]*$/i;

const CHAR_0 = 0x30;
const CHAR_9 = 0x39;

/** A part that makes the whole header malformed (RFC: ignore the header). */
const MALFORMED = -1;
/** A well-formed part that selects no byte of this file: dropped. */
const SKIPPED = 0;
/** A part that produced a range. */
const PUSHED = 1;
type PartOutcome = typeof MALFORMED | typeof SKIPPED | typeof PUSHED;

/**
 * Parse a Range header against a representation of `size` bytes.
 *
 * Overlapping and adjacent parts are merged and the result sorted by start,
 * so `bytes=0-,0-,0-` cannot make us send the file three times.
 */
export function parseRange(header: string | undefined, size: number, opts?: RangeOptions): RangeResult {
  if (!header) return NONE;
  if (!Number.isSafeInteger(size) || size < 0) return NONE;
  const maxRanges = opts?.maxRanges ?? DEFAULT_MAX_RANGES;
  if (!(maxRanges >= 1)) return NONE;

  const eq = header.indexOf('=');
  if (eq < 0 || !BYTES_UNIT.test(header.slice(0, eq))) return NONE;
  if (hasTooManyParts(header, eq + 1)) return NONE;

  const ranges: ByteRange[] = [];
  let sawPart = false;
  let from = eq + 1;
  while (from <= header.length) {
    let to = header.indexOf(',', from);
    if (to < 0) to = header.length;
    const [a, b] = trimOws(header, from, to);
    // Empty list elements (`0-1,,2-3`) are legal and ignored (RFC 9110 §5.6.1.2).
    if (a < b) {
      sawPart = true;
      if (parsePart(header, a, b, size, ranges, opts?.invertedIsEmpty === true) === MALFORMED) return NONE;
    }
    from = to + 1;
  }

  if (!sawPart) return NONE;
  if (ranges.length === 0) return UNSATISFIABLE;
  const merged = ranges.length === 1 ? ranges : coalesce(ranges);
  return merged.length > maxRanges ? NONE : { kind: 'ranges', ranges: merged };
}

/** More than MAX_RANGE_PARTS parts, i.e. at least that many commas; stops at the limit. */
function hasTooManyParts(s: string, from: number): boolean {
  let commas = 0;
  for (let i = s.indexOf(',', from); i >= 0; i = s.indexOf(',', i + 1)) {
    if (++commas >= MAX_RANGE_PARTS) return true;
  }
  return false;
}

function trimOws(s: string, from: number, to: number): [number, number] {
  while (from < to && isOws(s.charCodeAt(from))) from++;
  while (to > from && isOws(s.charCodeAt(to - 1))) to--;
  return [from, to];
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** One range-spec: `first-last`, `first-` or `-suffix`, digits only. */
function parsePart(s: string, from: number, to: number, size: number, out: ByteRange[], invertedIsEmpty: boolean): PartOutcome {
  const dash = s.indexOf('-', from);
  if (dash < 0 || dash >= to) return MALFORMED;

  if (dash === from) return suffixRange(parseDigits(s, dash + 1, to), size, out);

  const first = parseDigits(s, from, dash);
  const last = dash + 1 === to ? Infinity : parseDigits(s, dash + 1, to);
  if (Number.isNaN(first) || Number.isNaN(last)) return MALFORMED;
  if (first > last) return invertedIsEmpty ? SKIPPED : MALFORMED;
  if (first >= size) return SKIPPED;
  out.push({ start: first, end: Math.min(last, size - 1) });
  return PUSHED;
}

/** `-n`: the last n bytes. `-0` is well formed but selects nothing. */
function suffixRange(length: number, size: number, out: ByteRange[]): PartOutcome {
  if (Number.isNaN(length)) return MALFORMED;
  if (length === 0 || size === 0) return SKIPPED;
  out.push({ start: Math.max(0, size - length), end: size - 1 });
  return PUSHED;
}

/**
 * Decimal digits in [from, to) as a number; NaN if empty, if any character is
 * not a digit, or if the value passes 2^53-1 (it could no longer be exact, so
 * Content-Range would lie).
 */
function parseDigits(s: string, from: number, to: number): number {
  if (from >= to) return NaN;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) return NaN;
    value = value * 10 + (c - CHAR_0);
    if (value > Number.MAX_SAFE_INTEGER) return NaN;
  }
  return value;
}

/** Sort by start and merge parts that overlap or touch (RFC 9110 §15.3.7.2 allows this). */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  ranges.sort((x, y) => x.start - y.start);
  const merged: ByteRange[] = [ranges[0]];
  for (let i = 1; i < ranges.length; i++) {
    const last = merged[merged.length - 1];
    const next = ranges[i];
    if (next.start <= last.end + 1) {
      if (next.end > last.end) last.end = next.end;
    } else {
      merged.push(next);
    }
  }
  return merged;
}
