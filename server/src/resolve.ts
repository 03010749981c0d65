/**
 * Request target → absolute file-system path inside root, or the HTTP error
 * that refuses it. Pure: string work only, no fs, so it cannot be raced.
 *
 * The checks follow send's order: decode → NUL → normalise → ".." →
 * join + containment → dotfiles. As in send, the path is normalised as a
 * relative path first, so `/a/../b.txt` is `b.txt`, and a ".." that is left
 * (one that would climb above root, `/a/../../b`) is refused with 403; so is
 * any segment `..` next to a backslash. Containment is then checked again on
 * the joined path, against root + '/'.
 */
import { posix } from 'node:path';

export type DotfilePolicy = 'allow' | 'deny' | 'ignore';

export type Resolution =
  // Absolute path inside root. It keeps a trailing slash when the request had
  // one, so a file requested as a directory fails stat with ENOTDIR (404) as in send.
  // Shared between requests (PathResolver remembers them): never mutated.
  // `decoded` is the request's pathname as the client wrote it, decoded but
  // not normalised (what serve.json's rules are matched against).
  | { readonly kind: 'path'; readonly path: string; readonly trailingSlash: boolean; readonly decoded: string }
  | { readonly kind: 'error'; readonly status: 400 | 403 | 404; readonly reason: string };

/**
 * Longest raw pathname we look at. Beyond it we answer 404 without decoding:
 * no such file can exist (PATH_MAX is 4 KiB), and serve-static says 404 too
 * (its stat fails with ENAMETOOLONG).
 */
export const MAX_PATH_LENGTH = 8 * 1024;

// send's UP_PATH_REGEXP: a ".." segment delimited by either slash or an end.
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/;
// `scheme://authority` of an absolute-form target (RFC 9112 §3.2.2).
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

export function resolvePath(root: string, rawUrl: string, opts: { dotfiles: DotfilePolicy }): Resolution {
  const pathname = urlPathname(rawUrl);
  if (pathname.length > MAX_PATH_LENGTH) return fail(404, 'Name too long');
  if (!pathname.startsWith('/')) return fail(400, 'Bad Request');

  const decoded = decodePath(pathname);
  // A NUL would truncate the path in the kernel; it can come raw or as %00.
  if (decoded === null || decoded.includes('\0')) return fail(400, 'Bad Request');
  // send: normalize('.' + sep + path), then refuse a ".." that survived.
  const relative = posix.normalize('.' + decoded);
  if (UP_PATH.test(relative)) return fail(403, 'Forbidden');

  // `relative` is normalised and climbs nowhere: joining needs no second pass.
  const base = root.endsWith('/') ? root.slice(0, -1) : root;
  const path = relative === '.' ? root : relative === './' ? `${base}/` : `${base}/${relative}`;
  const below = pathBelowRoot(root, path);
  if (below === null) return fail(403, 'Forbidden');

  if (opts.dotfiles !== 'allow' && hasDotSegment(below)) {
    return opts.dotfiles === 'deny' ? fail(403, 'Forbidden') : fail(404, 'Not Found');
  }
  return { kind: 'path', path, trailingSlash: decoded.endsWith('/'), decoded };
}

/**
 * The raw (still percent-encoded) pathname of a request target: origin-form
 * up to `?`/`#`, or the path of an absolute-form target ('/' if it has none).
 * Returns '' for asterisk-form, authority-form and anything else.
 */
export function urlPathname(rawUrl: string): string {
  let start = 0;
  if (!rawUrl.startsWith('/')) {
    const m = ABSOLUTE_FORM.exec(rawUrl);
    if (m === null) return '';
    start = m[0].length;
  }
  const end = endOfPath(rawUrl, start);
  return start === end ? '/' : rawUrl.slice(start, end);
}

/**
 * Location for a directory requested without its trailing slash: pathname +
 * '/' + original query, relative to this origin. Leading slashes collapse to
 * one and backslashes are encoded, so browsers cannot read it as `//host`;
 * the host of an absolute-form target is dropped for the same reason.
 */
export function redirectLocation(rawUrl: string): string {
  const pathname = urlPathname(rawUrl) || '/';
  const end = pathEndIndex(rawUrl);
  const hash = rawUrl.indexOf('#');
  const query = end < rawUrl.length && rawUrl[end] === '?' ? rawUrl.slice(end, hash < 0 ? undefined : hash) : '';
  return encodeUrl(collapseLeadingSlashes(pathname + '/') + query);
}

function pathEndIndex(rawUrl: string): number {
  if (rawUrl.startsWith('/')) return endOfPath(rawUrl, 0);
  const m = ABSOLUTE_FORM.exec(rawUrl);
  return m === null ? rawUrl.length : endOfPath(rawUrl, m[0].length);
}

function endOfPath(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return i;
  }
  return s.length;
}

/** decodeURIComponent, with null for bad escapes and invalid or overlong UTF-8 (URIError). */
function decodePath(pathname: string): string | null {
  if (!pathname.includes('%')) return pathname;
  try {
    return decodeURIComponent(pathname);
  } catch {
    return null;
  }
}

/**
 * The part of `path` below root ('' for root itself), or null if it escapes.
 * The prefix is `root + '/'`, never plain `root`, or /srv/public would admit
 * /srv/public-other.
 */
function pathBelowRoot(root: string, path: string): string | null {
  if (path === root) return '';
  const prefix = root.endsWith('/') ? root : root + '/';
  return path.startsWith(prefix) ? path.slice(prefix.length) : null;
}

/** send's containsDotFile: a segment of two or more characters starting with '.'. */
function hasDotSegment(below: string): boolean {
  for (const segment of below.split('/')) {
    if (segment.length > 1 && segment.charCodeAt(0) === 0x2e) return true;
  }
  return false;
}

/** serve-static's collapseLeadingSlashes: `//evil.com/` would be a network-path reference. */
function collapseLeadingSlashes(path: string): string {
  let i = 0;
  while (i < path.length && path.charCodeAt(i) === 0x2f) i++;
  return i > 1 ? '/' + path.slice(i) : path;
}

// encodeurl's rule (encode what is not a URL code point, and '%' not starting a
// valid escape), with '\' (0x5C) also encoded: browsers read `/\host` as `//host`.
const ENCODE_CHARS = /[^\x21\x23-\x3B\x3D\x3F-\x5B\x5D-\x5F\x61-\x7A\x7C\x7E]+|%(?![0-9A-Fa-f]{2})/g;
const SURROGATES = /([\uD800-\uDBFF][\uDC00-\uDFFF])|[\uD800-\uDFFF]/g;

/** Like the `encodeurl` package: keeps valid escapes, never throws on lone surrogates. */
function encodeUrl(url: string): string {
  return url.replace(SURROGATES, (_match: string, pair: string | undefined) => pair ?? '\uFFFD').replace(ENCODE_CHARS, encodeURI);
}

function fail(status: 400 | 403 | 404, reason: string): Resolution {
  return { kind: 'error', status, reason };
}

/** Longest request target whose resolution is remembered (longer ones are resolved every time). */
const CACHEABLE_URL_LENGTH = 512;

/**
 * resolvePath for one root and policy, remembering the answers for recent
 * targets: a static server sees the same few URLs over and over, and
 * decoding, normalising and checking them is pure string work with one
 * answer per target. Bounded: when full it starts over, so a client asking
 * for endless distinct URLs costs a re-resolve, never memory.
 */
export class PathResolver {
  private readonly known = new Map<string, Resolution>();

  constructor(
    private readonly root: string,
    private readonly opts: { dotfiles: DotfilePolicy },
    private readonly capacity = 1024,
  ) {}

  /** Targets remembered now. */
  get size(): number {
    return this.known.size;
  }

  resolve(rawUrl: string): Resolution {
    let resolution = this.known.get(rawUrl);
    if (resolution !== undefined) return resolution;
    resolution = resolvePath(this.root, rawUrl, this.opts);
    if (rawUrl.length <= CACHEABLE_URL_LENGTH) {
      if (this.known.size >= this.capacity) this.known.clear();
      this.known.set(rawUrl, resolution);
    }
    return resolution;
  }
}

/** `/srv/public/a/b.txt` → `/a/b.txt` under root `/srv/public` ('' for root itself). */
export function relativeToRoot(root: string, absolute: string): string {
  if (root === '/') return absolute === '/' ? '' : absolute;
  return absolute.slice(root.length);
}

/** `/a/b.txt` → `/srv/public/a/b.txt` (`relative` is absolute and normalised: it cannot climb). */
export function absoluteUnderRoot(root: string, relative: string): string {
  return root === '/' ? relative : root + (relative === '/' ? '' : relative);
}
