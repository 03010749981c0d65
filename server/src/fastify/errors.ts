// The plugin's option errors, with @fastify/static's codes, messages and
// status codes, shaped as Fastify's own errors (`name` 'FastifyError',
// `code`, `statusCode`, a printf-style message), so code that matches on
// `err.code` keeps working after a switch. They also carry the markers
// @fastify/error's `instanceof` checks read, so `err instanceof
// errors.FST_STATIC_INVALID_OPTION` holds whichever package built `errors`.
import { format } from 'node:util';

const GENERIC = Symbol.for('fastify-error-generic');

export interface StaticOptionError extends Error {
  readonly code: string;
  readonly statusCode: number;
}

export interface StaticOptionErrorClass {
  new (...args: unknown[]): StaticOptionError;
  readonly code: string;
}

function errorClass(code: string, template: string, statusCode: number, Base: ErrorConstructor): StaticOptionErrorClass {
  const marker = Symbol.for(`fastify-error ${code}`);
  class FastifyError extends Base implements StaticOptionError {
    static readonly code = code;
    readonly code: string = code;
    override name = 'FastifyError';
    readonly statusCode: number = statusCode;
    constructor(...args: unknown[]) {
      super();
      this.message = format(template, ...args);
    }

    override toString(): string {
      return `${this.name} [${this.code}]: ${this.message}`;
    }

    static override [Symbol.hasInstance](value: unknown): boolean {
      return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
    }
  }
  Object.defineProperty(FastifyError.prototype, GENERIC, { value: true });
  Object.defineProperty(FastifyError.prototype, marker, { value: true });
  return FastifyError;
}

export const FST_STATIC_INVALID_OPTION = errorClass('FST_STATIC_INVALID_OPTION', '"%s" option %s', 500, Error);
export const FST_STATIC_INVALID_OPTION_VALUE = errorClass('FST_STATIC_INVALID_OPTION_VALUE', '"%s" option %s', 500, TypeError);
export const FST_STATIC_MULTIROOT_LIST_CONFLICT = errorClass(
  'FST_STATIC_MULTIROOT_LIST_CONFLICT',
  'multi-root with list option is not supported',
  500,
  TypeError,
);
export const FST_STATIC_INVALID_REDIRECT_URL = errorClass('FST_STATIC_INVALID_REDIRECT_URL', 'Invalid redirect URL: "%s"', 400, Error);

/** What the plugin exports as `errors`, as @fastify/static does. */
export const errors = {
  FST_STATIC_INVALID_OPTION,
  FST_STATIC_INVALID_OPTION_VALUE,
  FST_STATIC_MULTIROOT_LIST_CONFLICT,
  FST_STATIC_INVALID_REDIRECT_URL,
};

/** send's 403 for a path that climbs: Fastify's error handler answers it. */
export function forbiddenError(): Error & { status: number; statusCode: number } {
  return Object.assign(new Error('Forbidden'), { status: 403, statusCode: 403 });
}
