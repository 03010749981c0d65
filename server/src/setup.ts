// Construction shared by every adapter (handler, middleware, Fastify
// plugin): validate the root and options once and bind the engines.
import * as path from 'node:path';
import { chooseTransports, type EngineName } from './engines';
import { resolveOptions, type ResolvedOptions, type SluiceOptions } from './options';
import { Responder } from './responder';

/** Root as serve-static checks it, with serve-static's messages (code matches on them). */
export function checkRoot(root: unknown): string {
  if (!root) throw new TypeError('root path required');
  if (typeof root !== 'string') throw new TypeError('root path must be a string');
  return path.resolve(root);
}

export interface Built {
  responder: Responder;
  root: string;
  engine: EngineName;
  engineNote: string;
}

/** What an adapter may set that is not a public option (the shape of its answers). */
export type Internal = Partial<Pick<ResolvedOptions, 'flavor'>>;

export function build(root: unknown, opts: SluiceOptions | null | undefined, internal?: Internal): Built {
  const absRoot = checkRoot(root);
  const resolved = { ...resolveOptions(opts), ...internal };
  const transports = chooseTransports(resolved.engine, { maxChunk: resolved.maxChunk, sendTimeout: resolved.sendTimeout });
  return {
    responder: new Responder(absRoot, resolved, transports),
    root: absRoot,
    engine: transports.name,
    engineNote: transports.note,
  };
}
