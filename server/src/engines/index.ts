// The engine table: what this machine supports, and the choice made once at
// construction (nginx picks its event and send methods the same way).
import { SluiceError } from '../errors';
import { native } from '../native';
import { copyEngine, createCopyEngine } from './copy';
import { nativeTransferEngine, type NativeEngineOptions } from './native-transfer';
import { smallBodyEngine } from './small';
import { uringEngine, uringUnavailableReason } from './uring';
import type { Engine, EngineName } from './types';

export type { Engine, EngineName, SendDone } from './types';

export interface EngineReport {
  name: EngineName;
  available: boolean;
  /** Why not, when unavailable ('' when available). */
  reason: string;
}

/**
 * Under 'auto', files up to this size are written from memory together with
 * the head (engines/small.ts); larger ones go zero-copy. See README for the
 * figures behind it.
 */
export const AUTO_SMALL_FILE_MAX = 16 * 1024;

/** Fallback order for 'auto', fastest first. */
export const AUTO_ORDER: readonly EngineName[] = ['sendfile', 'copy'];
export const ENGINE_NAMES: readonly EngineName[] = ['io_uring', 'splice', 'sendfile', 'copy'];

/** io_uring's probe makes a ring: run it once per process. */
let uringReason: string | undefined;

function probe(name: EngineName): EngineReport {
  if (name === 'copy') return { name, available: true, reason: '' };
  if (!native.binding) return { name, available: false, reason: native.reason };
  if (name === 'io_uring') {
    uringReason ??= uringUnavailableReason(native.binding);
    return { name, available: uringReason === '', reason: uringReason };
  }
  if (name === 'sendfile' || name === 'splice') return { name, available: true, reason: '' };
  return { name, available: false, reason: `the ${name} engine is not part of this build` };
}

/** What each engine can do on this machine, and why not. */
export function engines(): EngineReport[] {
  return ENGINE_NAMES.map(probe);
}

function build(name: EngineName, opts: NativeEngineOptions): Engine {
  const binding = native.binding;
  if (name === 'sendfile' && binding) {
    return nativeTransferEngine('sendfile', binding, binding.MOVER_SENDFILE, 'sendfile', opts);
  }
  if (name === 'splice' && binding) {
    return nativeTransferEngine('splice', binding, binding.MOVER_SPLICE, 'splice', opts);
  }
  if (name === 'io_uring' && binding) return uringEngine(binding, opts);
  return createCopyEngine(opts.sendTimeout);
}

export interface EngineChoice {
  engine: Engine;
  /**
   * For responses only Node may write, frame by frame (HTTP/2): copy, and
   * under 'auto' small files from memory as on HTTP/1.
   */
  framed: Engine;
  /** One line for logs: what was chosen and why. */
  note: string;
}

/**
 * Resolves an engine name. A named engine must be available, else this
 * throws ERR_SLUICE_ENGINE_UNAVAILABLE with the reason; 'auto' falls back
 * and says what it chose.
 */
export function chooseEngine(choice: EngineName | 'auto', opts: NativeEngineOptions): EngineChoice {
  if (choice !== 'auto') {
    const report = probe(choice);
    if (!report.available) {
      throw new SluiceError('ERR_SLUICE_ENGINE_UNAVAILABLE', `The ${choice} engine is not available: ${report.reason}`);
    }
    return { engine: build(choice, opts), framed: copyEngine, note: `engine ${choice}` };
  }
  // Say which engines this machine lacks and why (io_uring_setup: EPERM
  // under Docker's default seccomp profile, say), chosen or not.
  const missing = ENGINE_NAMES.map(probe).filter((r) => !r.available);
  const why = missing.length ? ` (unavailable here: ${missing.map((r) => `${r.name}: ${r.reason}`).join('; ')})` : '';
  const name = AUTO_ORDER.find((n) => probe(n).available) ?? 'copy';
  return {
    engine: smallBodyEngine(build(name, opts), AUTO_SMALL_FILE_MAX),
    framed: smallBodyEngine(copyEngine, AUTO_SMALL_FILE_MAX),
    note: `engine ${name} (auto)${why}`,
  };
}
