// multipart/byteranges bodies (RFC 9110 §14.6): part headers and boundaries
// are literal segments between file segments, so the file bytes of every
// part still move zero-copy.
import { randomBytes } from 'node:crypto';
import type { Body, BodySource, Segment } from './body';
import { contentRange } from './head';
import type { ByteRange } from './range';

const BOUNDARY_PREFIX = randomBytes(8).toString('hex');
let boundaryCounter = 0;

function nextBoundary(): string {
  boundaryCounter = (boundaryCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `sluice_${BOUNDARY_PREFIX}_${boundaryCounter.toString(36)}`;
}

export interface MultipartBody {
  body: Body;
  contentType: string;
}

export function multipartBody(fd: number, ranges: readonly ByteRange[], size: number, partType: string, source?: BodySource): MultipartBody {
  const boundary = nextBoundary();
  const segments: Segment[] = [];
  let length = 0;
  ranges.forEach((r, i) => {
    const head = Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${partType}\r\nContent-Range: ${contentRange(r.start, r.end, size)}\r\n\r\n`,
      'latin1',
    );
    const partLength = r.end - r.start + 1;
    segments.push(head, { fd, offset: r.start, length: partLength });
    length += head.length + partLength;
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  segments.push(tail);
  length += tail.length;
  const body: Body = source ? { segments, length, source } : { segments, length };
  return { body, contentType: `multipart/byteranges; boundary=${boundary}` };
}
