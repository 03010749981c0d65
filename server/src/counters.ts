// Process-wide counts that the metrics (metrics.ts) read when scraped:
// plain numbers, incremented where the event happens and never read on
// the request path. File descriptors, the compress cache's worker and the
// engines' fallbacks are the process's, so are these counts.

/** Why a body went through the copy engine although the server's engine is a zero-copy one. */
export type FallbackReason = 'tls' | 'http2' | 'wrapped-write' | 'descriptors';
export const FALLBACK_REASONS: readonly FallbackReason[] = ['tls', 'http2', 'wrapped-write', 'descriptors'];

/** Bodies copied instead of sent zero-copy, by reason. */
export const fallbacks: Record<FallbackReason, number> = { tls: 0, http2: 0, 'wrapped-write': 0, descriptors: 0 };

/** Responses answered from a precompressed sibling on disk (x.js.br, say), by coding. */
export const precompressedHits: Record<string, number> = Object.create(null) as Record<string, number>;

export function countPrecompressedHit(coding: string): void {
  precompressedHits[coding] = (precompressedHits[coding] ?? 0) + 1;
}

/** The compress cache, every cache of the process together. */
export const compressCounts = {
  /** Lookups that found the variant ready. */
  hits: 0,
  /** Lookups that did not (identity was served, the variant scheduled). */
  misses: 0,
  /** Variants waiting for the compressing worker. */
  queued: 0,
  /** Variants being made. */
  running: 0,
  /** Variants made, and adopted from another process. */
  made: 0,
  adopted: 0,
  /** Jobs refused because the queue was full. */
  dropped: 0,
  failed: 0,
  evicted: 0,
};
