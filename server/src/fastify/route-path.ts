// Under Fastify, which file a request names: the part of the raw URL after
// the route's prefix, decoded as @fastify/static decodes it (decodeURI,
// which leaves an encoded '/' as the three characters `%2F`, so it can
// never become a separator). Pure string work.
//
// Fastify's router picks the route from the raw path, so a path that a
// static server normalises could reach a file some other route guards:
// an app answers /deep/* with 401, and /foo/../deep/secret or
// /foo/%2e%2e/deep/secret would match the static wildcard instead. A ".."
// segment anywhere in the decoded path is therefore refused (403), as
// @fastify/static refuses it; an encoded slash stays part of a file name.
import { posix } from 'node:path';

const DOT_DOT_SEGMENT = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/** Whether `path` has a ".." segment (with '/' or '\' around it). */
export function hasDotDotSegment(path: string): boolean {
  return DOT_DOT_SEGMENT.test(path);
}

/** A prefix matcher: the length of the route's prefix at the start of a URL, or undefined if it does not match. */
export type PrefixMatcher = (url: string, pathEnd: number) => number | undefined;

/**
 * The matcher for a wildcard route's URL as Fastify registered it
 * (`/nested/public/*`, `/app/:version/*`): literal parts must match
 * exactly, each `:param` takes one non-empty segment.
 */
export function prefixMatcher(routeUrl: string): PrefixMatcher {
  const prefix = routeUrl.endsWith('*') ? routeUrl.slice(0, -1) : routeUrl;
  if (prefix === '/') return () => 0;
  if (!prefix.includes(':')) return (url, end) => (prefix.length <= end && url.startsWith(prefix) ? prefix.length : undefined);
  const parts = prefix.split(/(:[^/]*)/).filter((p) => p !== '');
  return (url, end) => {
    let at = 0;
    for (const part of parts) {
      if (part.startsWith(':')) {
        const slash = url.indexOf('/', at);
        const stop = slash < 0 || slash > end ? end : slash;
        if (stop === at) return undefined;
        at = stop;
      } else {
        if (at + part.length > end || !url.startsWith(part, at)) return undefined;
        at += part.length;
      }
    }
    return at;
  };
}

/** Where a request leads: a decoded path below the prefix, a refusal, or nothing this route serves. */
export type RouteTarget = { readonly kind: 'path'; readonly pathname: string } | { readonly kind: 'forbidden' } | { readonly kind: 'not-found' };

const NOT_FOUND: RouteTarget = { kind: 'not-found' };
const FORBIDDEN: RouteTarget = { kind: 'forbidden' };

/** The file path a wildcard route's request names (see the top of this file). */
export function routeTarget(rawUrl: string, match: PrefixMatcher): RouteTarget {
  const query = rawUrl.indexOf('?');
  const end = query < 0 ? rawUrl.length : query;
  const prefixLength = match(rawUrl, end);
  if (prefixLength === undefined) return NOT_FOUND;
  let rest = rawUrl.slice(prefixLength, end);
  if (rest === '') rest = '/';
  else if (!rest.startsWith('/')) rest = `/${rest}`;
  let whole: string;
  let pathname: string;
  try {
    whole = decodeURI(rawUrl.slice(0, end));
    pathname = decodeURI(rest);
  } catch {
    return NOT_FOUND; // a malformed escape names no file
  }
  // The whole path, not only the rest: a route parameter can swallow a "..".
  if (hasDotDotSegment(whole)) return FORBIDDEN;
  return { kind: 'path', pathname };
}

/** The path allowedPath is shown: normalised, as the file it names. */
export function normalizedPathname(pathname: string): string {
  return pathname.startsWith('/') ? posix.normalize(pathname) : pathname;
}

/**
 * Location for a directory asked for without its slash: the URL's own path
 * (leading slashes and backslashes collapsed to one, so it cannot become a
 * protocol-relative `//host`; dot segments resolved) with a slash, and its
 * query.
 */
export function slashRedirect(rawUrl: string): string {
  let i = 0;
  while (i < rawUrl.length && (rawUrl[i] === '/' || rawUrl[i] === '\\')) i++;
  const parsed = new URL(`/${rawUrl.slice(i)}`, 'http://localhost/');
  const pathname = parsed.pathname.endsWith('/') ? parsed.pathname : `${parsed.pathname}/`;
  return pathname + parsed.search;
}
