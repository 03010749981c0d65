// How HTTP logic describes a response body to an engine: file ranges and
// literal bytes (multipart boundaries), in order. Engines move these bytes
// and know nothing else of HTTP.

export interface FileSegment {
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
}

export type Segment = FileSegment | Buffer;

/**
 * The file version every file segment of a body comes from: its fd, its
 * size, and a slot where an engine may keep the whole file's bytes (small
 * files). A new version of the file is a new source with an empty slot, so
 * bytes kept here can never outlive the version they were read from.
 */
export interface BodySource {
  readonly fd: number;
  readonly size: number;
  bytes: Buffer | null;
  /** Until when (Date.now() ms) the version is trusted without a new stat; 0 when it is not cached. */
  trustedUntil?(): number;
  /** Takes the version out of its table (it turned out shorter than its stat). */
  invalidate?(): void;
}

export interface Body {
  readonly segments: readonly Segment[];
  /** Sum of the segment lengths: the Content-Length already promised. */
  readonly length: number;
  readonly source?: BodySource;
}

export function isFileSegment(s: Segment): s is FileSegment {
  return !Buffer.isBuffer(s);
}

export function fileBody(fd: number, offset: number, length: number, source?: BodySource): Body {
  return source ? { segments: [{ fd, offset, length }], length, source } : { segments: [{ fd, offset, length }], length };
}
