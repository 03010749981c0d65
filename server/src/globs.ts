// serve.json's `source` patterns, compiled once. A pattern means here what
// it means to serve: a path-to-regexp expression (`/face/:id`, where the
// first `*` becomes a capture) tried first, then a minimatch glob
// (`**/*.md`, `!face/**`, `+(a|b)`), both on the path made absolute and
// normalised. The libraries are the ones serve uses, at the versions it
// pins, so a pattern matches the same paths with either server. Pure.
import { posix } from 'node:path';
import minimatch from 'minimatch';
import pathToRegexp from 'path-to-regexp';

/** A URL path made absolute and normalised, keeping a leading `!` (a negated glob). */
export function slash(value: string): string {
  return value.charAt(0) === '!' ? `!${normalize(value.slice(1))}` : normalize(value);
}

function normalize(value: string): string {
  return posix.normalize(posix.join('/', value));
}

/** What a match captured: path-to-regexp's groups by key name (none for a glob match). */
export type Captures = Readonly<Record<string, string>>;

const NO_CAPTURES: Captures = Object.freeze({});

/** One compiled `source`. */
export class SourcePattern {
  private readonly glob: minimatch.IMinimatch;
  private readonly regexp: RegExp | null;
  private readonly keys: pathToRegexp.Key[] = [];

  /** `segments`: also try the pattern as a path-to-regexp expression (rewrites and redirects do). */
  constructor(
    readonly source: string,
    segments: boolean,
  ) {
    const slashed = slash(source);
    this.glob = new minimatch.Minimatch(slashed);
    this.regexp = segments ? pathToRegexp(slashed.replace('*', '(.*)'), this.keys) : null;
  }

  /** The captures when `path` matches, else null. */
  exec(path: string): Captures | null {
    const resolved = posix.resolve('/', path);
    if (this.regexp !== null) {
      const results = this.regexp.exec(resolved);
      if (results !== null) {
        const captures: Record<string, string> = {};
        this.keys.forEach((key, i) => {
          captures[key.name] = results[i + 1];
        });
        return captures;
      }
    }
    return this.glob.match(resolved) ? NO_CAPTURES : null;
  }

  matches(path: string): boolean {
    return this.exec(path) !== null;
  }
}

// url.parse's protocol pattern: a destination with one is left as written.
const PROTOCOL = /^[a-z0-9.+-]+:/i;

/** A rewrite's or redirect's `source` → `destination`, with `:name` captures carried over. */
export class PathRule {
  private readonly pattern: SourcePattern;
  private readonly toPath: pathToRegexp.PathFunction<Record<string, string>>;

  constructor(source: string, destination: string) {
    this.pattern = new SourcePattern(source, true);
    this.toPath = pathToRegexp.compile(PROTOCOL.test(destination) ? destination : slash(destination));
  }

  /** The destination for `path`, or null when the rule does not apply to it. */
  target(path: string): string | null {
    const captures = this.pattern.exec(path);
    if (captures === null) return null;
    try {
      return this.toPath(captures);
    } catch {
      // A destination naming a capture the match did not make (a glob match makes none).
      return null;
    }
  }
}

/** A `true`/`false` or a list of sources, as `cleanUrls` and `directoryListing` take. */
export class Applicability {
  private readonly patterns: SourcePattern[] | null;
  private readonly all: boolean;

  constructor(value: boolean | readonly string[] | undefined) {
    this.all = value === undefined || value === true;
    this.patterns = Array.isArray(value) ? value.map((s) => new SourcePattern(s, false)) : null;
  }

  /** Whether it applies to `path`: a boolean as given, a list when a source matches, unset means yes. */
  appliesTo(path: string): boolean {
    if (this.patterns === null) return this.all;
    return this.patterns.some((p) => p.matches(path));
  }

  /** Whether it can apply to any path at all. */
  get ever(): boolean {
    return this.patterns === null ? this.all : this.patterns.length > 0;
  }
}
