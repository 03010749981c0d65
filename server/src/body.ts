// How HTTP logic describes a response body to an engine: file ranges and
// literal bytes (multipart boundaries), in order. Engines move these bytes
// and know nothing else of HTTP.

export interface FileSegment {
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
}

export type Segment = FileSegment | Buffer;

export interface Body {
  readonly segments: readonly Segment[];
  /** Sum of the segment lengths: the Content-Length already promised. */
  readonly length: number;
}

export function isFileSegment(s: Segment): s is FileSegment {
  return !Buffer.isBuffer(s);
}

export function fileBody(fd: number, offset: number, length: number): Body {
  return { segments: [{ fd, offset, length }], length };
}
