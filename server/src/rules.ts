// serve.json's routing rules (redirects, trailing slashes, clean URLs,
// rewrites) and header rules, compiled once at start-up and evaluated as
// serve evaluates them. Pure: paths in, decisions out. Every answer is
// remembered per path (bounded), so a request for a path seen before costs
// one Map lookup however many rules there are.
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { posix } from 'node:path';
import { Applicability, PathRule, SourcePattern, slash } from './globs';

/** One header a rule sets; `null` removes it (sluice's own field included). */
export interface HeaderEntry {
  readonly key: string;
  readonly value: string | number | null;
}

export interface HeaderRule {
  /** The paths (globs) whose files and error pages carry the fields; without one, every response does (redirects and listings too). */
  readonly source?: string;
  readonly headers: readonly HeaderEntry[];
}

export interface RewriteRule {
  readonly source: string;
  readonly destination: string;
}

export interface RedirectRule extends RewriteRule {
  /** The status of the redirect (default 301). */
  readonly type?: number;
}

/** The routing and header keys of serve.json. */
export interface ServeRules {
  readonly cleanUrls?: boolean | readonly string[];
  readonly rewrites?: readonly RewriteRule[];
  readonly redirects?: readonly RedirectRule[];
  readonly headers?: readonly HeaderRule[];
  readonly trailingSlash?: boolean;
}

/** What the rules make of one request path (decoded, as the client sent it). */
export interface Route {
  readonly redirect: { readonly status: number; readonly location: string } | null;
  /** The path a rewrite leads to (absolute, normalised), or null. */
  readonly rewritten: string | null;
  /** Whether clean URLs apply: `/a` may be `a.html` or `a/index.html`, and `/a.html` redirects to `/a`. */
  readonly cleanUrl: boolean;
}

/** The header rules' verdict for one file: fields to set ([name, value, …]) and lower-case names to drop. */
export interface RuleHeaders {
  readonly fields: readonly string[];
  readonly removed: readonly string[];
}

export const NO_HEADERS: RuleHeaders = Object.freeze({ fields: [], removed: [] });

const CLEAN_SUFFIX = /(\.html|\/index)$/g;
const SLASHES = /\/+/g;
const MEMO_SIZE = 1024;

export class RuleSet {
  private readonly cleanUrls: Applicability;
  private readonly rewrites: readonly PathRule[];
  private readonly redirects: readonly { rule: PathRule; status: number }[];
  private readonly headers: readonly { pattern: SourcePattern; entries: readonly HeaderEntry[] }[];
  private readonly trailingSlash: boolean | undefined;
  /** The fields of the rules without a source ([name, value, …]): on every response. */
  readonly everywhere: readonly string[];
  private readonly routes = new Map<string, Route>();
  private readonly fileHeaders = new Map<string, RuleHeaders>();

  /** Compiles every pattern now: a bad one throws here, never on a request. */
  constructor(rules: ServeRules) {
    this.cleanUrls = new Applicability(rules.cleanUrls);
    this.rewrites = (rules.rewrites ?? []).map((r) => new PathRule(r.source, r.destination));
    this.redirects = (rules.redirects ?? []).map((r) => ({ rule: new PathRule(r.source, r.destination), status: r.type ?? 301 }));
    const headers = rules.headers ?? [];
    headers.forEach(checkHeaderRule);
    this.headers = headers.flatMap((h) => (h.source === undefined ? [] : [{ pattern: new SourcePattern(h.source, false), entries: h.headers }]));
    this.everywhere = mergeEverywhere(headers.filter((h) => h.source === undefined));
    this.trailingSlash = rules.trailingSlash;
  }

  /** Whether any header rule exists (else headersFor is always empty). */
  get hasHeaders(): boolean {
    return this.headers.length > 0;
  }

  route(decodedPath: string): Route {
    let route = this.routes.get(decodedPath);
    if (route === undefined) {
      const cleanUrl = this.cleanUrls.appliesTo(decodedPath);
      route = { redirect: this.redirectFor(decodedPath, cleanUrl), rewritten: this.rewrite(decodedPath), cleanUrl };
      remember(this.routes, decodedPath, route);
    }
    return route;
  }

  /** The header rules for a file at `relativePath` below the root ('/a/b.md'). */
  headersFor(relativePath: string): RuleHeaders {
    if (this.headers.length === 0) return NO_HEADERS;
    let found = this.fileHeaders.get(relativePath);
    if (found === undefined) {
      found = this.mergeHeaders(slash(relativePath));
      remember(this.fileHeaders, relativePath, found);
    }
    return found;
  }

  /** Every rule that matches, in order; a later rule's value for a field wins, `null` removes it. */
  private mergeHeaders(path: string): RuleHeaders {
    const merged = new Map<string, HeaderEntry>();
    for (const { pattern, entries } of this.headers) {
      if (!pattern.matches(path)) continue;
      for (const entry of entries) merged.set(entry.key.toLowerCase(), entry);
    }
    if (merged.size === 0) return NO_HEADERS;
    const fields: string[] = [];
    const removed: string[] = [];
    for (const [name, { key, value }] of merged) {
      if (value === null) removed.push(name);
      else fields.push(key, String(value));
    }
    return { fields, removed };
  }

  /** serve's order: clean-URL redirect, then trailing slash, then the redirect rules. */
  private redirectFor(path: string, cleanUrl: boolean): Route['redirect'] {
    if (cleanUrl && CLEAN_SUFFIX.test(path)) {
      CLEAN_SUFFIX.lastIndex = 0;
      return redirectTo(path.replace(CLEAN_SUFFIX, '').replace(SLASHES, '/'), 301);
    }
    CLEAN_SUFFIX.lastIndex = 0;
    const slashed = this.slashRedirect(path);
    if (slashed !== null) return redirectTo(slashed, 301);
    for (const { rule, status } of this.redirects) {
      const target = rule.target(path);
      if (target) return redirectTo(target, status);
    }
    return null;
  }

  private slashRedirect(path: string): string | null {
    if (this.trailingSlash === undefined) return null;
    const { ext, name } = posix.parse(path);
    const trailed = path.endsWith('/');
    let target: string | null = null;
    if (!this.trailingSlash && trailed) target = path.slice(0, -1);
    else if (this.trailingSlash && !trailed && !ext && !name.startsWith('.')) target = `${path}/`;
    if (path.includes('//')) target = path.replace(SLASHES, '/');
    return target || null;
  }

  /** The rewrites in order, each applied at most once, each on the result of the one before. */
  private rewrite(path: string): string | null {
    let rules = this.rewrites;
    let current: string | null = null;
    for (;;) {
      const from = current ?? path;
      const at = rules.findIndex((r) => r.target(from) !== null);
      if (at < 0) return current;
      current = slash(rules[at].target(from) as string);
      rules = rules.filter((_r, i) => i !== at);
    }
  }
}

/**
 * Fields sluice works out for each response (framing, validators, the
 * type): a field for every response cannot stand in for them.
 */
export const PER_RESPONSE_FIELDS: readonly string[] = [
  'connection',
  'content-encoding',
  'content-length',
  'content-range',
  'content-type',
  'etag',
  'keep-alive',
  'last-modified',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

function invalidRule(message: string): TypeError {
  const err = new TypeError(message);
  (err as NodeJS.ErrnoException).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** A header rule's fields, as Node would refuse them on a request: here, once, at start-up. */
function checkHeaderRule(rule: HeaderRule, i: number): void {
  if (typeof rule !== 'object' || rule === null || !Array.isArray(rule.headers)) {
    throw invalidRule(`The "headers" option's rule ${i} must be an object with a headers array`);
  }
  if (rule.source !== undefined && typeof rule.source !== 'string') throw invalidRule(`The "headers" option's rule ${i} has a source that is not a string`);
  for (const entry of rule.headers) {
    const { key, value } = (entry ?? {}) as HeaderEntry;
    const where = `The "headers" option's rule ${i}`;
    if (typeof key !== 'string') throw invalidRule(`${where} has a field without a key`);
    if (rule.source === undefined && value === null) throw invalidRule(`${where} has no source, so it cannot remove '${key}'`);
    if (rule.source === undefined && PER_RESPONSE_FIELDS.includes(key.toLowerCase())) {
      throw invalidRule(`${where} has no source, and '${key}' is set for each response`);
    }
    if (value !== null && typeof value !== 'string' && typeof value !== 'number') throw invalidRule(`${where}: '${key}' must have a string value`);
    try {
      validateHeaderName(key);
      if (value !== null) validateHeaderValue(key, String(value));
    } catch (err) {
      throw invalidRule(`${where}: ${(err as Error).message}`);
    }
  }
}

/** The fields of source-less rules, later ones winning, as [name, value, …]. */
function mergeEverywhere(rules: readonly HeaderRule[]): string[] {
  const merged = new Map<string, HeaderEntry>();
  for (const rule of rules) for (const entry of rule.headers) merged.set(entry.key.toLowerCase(), entry);
  return [...merged.values()].flatMap(({ key, value }) => [key, String(value)]);
}

function redirectTo(target: string, status: number): Route['redirect'] {
  const absolute = target.startsWith('/') || /^[a-z0-9.+-]+:/i.test(target) ? target : `/${target}`;
  return { status, location: encodeURI(absolute) };
}

function remember<V>(memo: Map<string, V>, key: string, value: V): void {
  if (key.length > 512) return;
  if (memo.size >= MEMO_SIZE) memo.clear();
  memo.set(key, value);
}

/**
 * The paths (below root, absolute) a routed request may name, in serve's
 * order: a path with an extension is looked up as it is first; a rewrite's
 * destination, or with clean URLs `x/index.html` then `x.html`, come before
 * the path itself otherwise.
 */
export function candidatePaths(relative: string, decodedPath: string, route: Route): string[] {
  const hasExtension = posix.extname(decodedPath) !== '';
  let related: string[] = [];
  if (route.rewritten !== null) related = [route.rewritten];
  else if (route.cleanUrl) related = cleanCandidates(relative);
  return hasExtension ? [relative, ...related.filter((r) => r !== relative)] : [...related.filter((r) => r !== relative), relative];
}

/** `/a` → `/a/index.html`, `/a.html`; `/a/` → `/a/index.html`, `/a.html`; `/` → `/index.html`. */
function cleanCandidates(relative: string): string[] {
  const out = [posix.join(relative, 'index.html')];
  const trimmed = relative.endsWith('/') ? relative.slice(0, -1) : relative;
  if (trimmed !== '') out.push(`${trimmed}.html`);
  return out;
}
