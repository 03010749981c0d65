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
 * The file version every file segment of a body comes from: its size and a
 * per-version scratch map (the open-file table's), where an engine may keep
 * derived data such as a small file's bytes. A new version of the file gets
 * a new map, so nothing derived can outlive the bytes it came from.
 */
export interface BodySource {
  readonly fd: number;
  readonly size: number;
  readonly derived: Map<string, unknown>;
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
