// serve.json: read once at start-up, validated against the schema serve
// itself validates with (@zeit/schemas' deployment/config-static, through
// ajv), every pattern compiled, and a bad file refused with its path and
// the offending key. Then mapped onto sluice's options.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { ServeConfigError } from './errors';
import type { SluiceOptions } from './options';
import { RuleSet, type HeaderRule, type RedirectRule, type RewriteRule } from './rules';

export { ServeConfigError } from './errors';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const SCHEMA = require('@zeit/schemas/deployment/config-static.js') as object;

/** serve.json as serve reads it (`etag` is serve-handler's, outside the published schema). */
export interface ServeConfig {
  public?: string;
  cleanUrls?: boolean | string[];
  rewrites?: RewriteRule[];
  redirects?: RedirectRule[];
  headers?: HeaderRule[];
  directoryListing?: boolean | string[];
  unlisted?: string[];
  trailingSlash?: boolean;
  renderSingle?: boolean;
  symlinks?: boolean;
  etag?: boolean;
}

let validator: ReturnType<Ajv['compile']> | null = null;

function validate(value: unknown): ReturnType<Ajv['compile']> {
  validator ??= new Ajv({ allowUnionTypes: true }).compile(SCHEMA);
  validator(value);
  return validator;
}

/** ajv's `/headers/0/key` as `headers[0].key`. */
function keyOf(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extra !== undefined) parts.push(extra);
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Reads and checks the serve.json at `file`. */
export function loadServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ServeConfigError(file, '', `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ServeConfigError(file, '', `not valid JSON (${(err as Error).message})`);
  }
  return checkServeConfig(value, file);
}

/** `value` as a ServeConfig, or a ServeConfigError naming `file` and the key at fault. */
export function checkServeConfig(value: unknown, file: string): ServeConfig {
  const { etag, ...rest } = (value ?? {}) as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ServeConfigError(file, '', 'must be a JSON object');
  if (etag !== undefined && typeof etag !== 'boolean') throw new ServeConfigError(file, 'etag', 'must be boolean');
  const check = validate(rest);
  const error = check.errors?.[0];
  if (error) {
    const extra = error.keyword === 'additionalProperties' ? String((error.params as { additionalProperty: string }).additionalProperty) : undefined;
    const detail = extra !== undefined ? 'is not a serve.json key' : (error.message ?? 'is invalid');
    throw new ServeConfigError(file, keyOf(error.instancePath, extra), detail);
  }
  const config = value as ServeConfig;
  checkRules(config, file);
  return config;
}

function checkRules(config: ServeConfig, file: string): void {
  for (const key of ['rewrites', 'redirects'] as const) {
    (config[key] ?? []).forEach((rule: unknown, i) => {
      const r = rule as RedirectRule;
      if (typeof r !== 'object' || r === null) throw new ServeConfigError(file, `${key}[${i}]`, 'must be an object');
      for (const field of ['source', 'destination'] as const) {
        if (typeof r[field] !== 'string') throw new ServeConfigError(file, `${key}[${i}].${field}`, 'must be a string');
      }
      if (key === 'redirects' && r.type !== undefined && !(Number.isInteger(r.type) && r.type >= 300 && r.type <= 399)) {
        throw new ServeConfigError(file, `${key}[${i}].type`, 'must be a 3xx status');
      }
      compiles(file, `${key}[${i}].source`, () => new RuleSet({ [key]: [r] }));
    });
  }
  for (const key of ['cleanUrls', 'directoryListing', 'unlisted'] as const) {
    const list = config[key];
    if (!Array.isArray(list)) continue;
    list.forEach((item: unknown, i) => {
      if (typeof item !== 'string') throw new ServeConfigError(file, `${key}[${i}]`, 'must be a string');
    });
  }
}

function compiles(file: string, key: string, make: () => unknown): void {
  try {
    make();
  } catch (err) {
    throw new ServeConfigError(file, key, `cannot be compiled (${(err as Error).message})`);
  }
}

/**
 * The options a serve.json stands for, served from `dir` (`public` is
 * relative to it). serve's defaults hold (clean URLs on, links refused)
 * except listings, which are off unless the file turns them on.
 */
export function optionsFromServeConfig(config: ServeConfig, dir: string): { root: string; options: SluiceOptions } {
  const root = config.public === undefined ? dir : path.resolve(dir, config.public);
  const options: SluiceOptions = { ...serveRuleOptions(config), listing: config.directoryListing ?? false };
  if (config.symlinks !== undefined) options.symlinks = config.symlinks ? 'follow' : 'within-root';
  if (config.etag !== undefined) options.etag = config.etag ? 'strong' : false;
  return { root, options };
}

/**
 * serve.json's routing, header and listing-content keys as options: what
 * every reader of the file (the CLI, sluice/serve-handler) maps the same
 * way. Each reader adds its own defaults for the rest (listings, links,
 * ETags), where serve's CLI and serve-handler differ.
 */
export function serveRuleOptions(config: ServeConfig): SluiceOptions {
  const options: SluiceOptions = { cleanUrls: config.cleanUrls ?? true, notFound: '404.html' };
  if (config.rewrites !== undefined) options.rewrites = config.rewrites;
  if (config.redirects !== undefined) options.redirects = config.redirects;
  if (config.headers !== undefined) options.headers = config.headers;
  if (config.unlisted !== undefined) options.unlisted = config.unlisted;
  if (config.trailingSlash !== undefined) options.trailingSlash = config.trailingSlash;
  if (config.renderSingle !== undefined) options.renderSingle = config.renderSingle;
  return options;
}
