// What @hono/node-server's serveStatic does with the request before any
// file is looked at, kept so that the same URLs name the same files (or
// none): the path decoded with decodeURI (reserved escapes such as %2F stay
// as they are), with `.`/`..` segments, doubled slashes and backslashes
// refused; and, by default, its lenient reading of Range (a range without
// `bytes=`, and a malformed one read as the whole file).

type Decoder = (s: string) => string;

/** decodeURI, and where the whole fails, each run of valid %xx escapes on its own. */
export function tryDecodeURI(s: string): string {
  return tryDecode(s, decodeURI);
}

function tryDecode(s: string, decoder: Decoder): string {
  try {
    return decoder(s);
  } catch {
    return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decoder(run);
      } catch {
        return run;
      }
    });
  }
}

const UNSAFE = /(?:^|[/\\])\.{1,2}(?:$|[/\\])|[/\\]{2,}|\\/;

/** The request's path as a file name below root, or null when it may not name one. */
export function requestFileName(requestPath: string): string | null {
  const name = tryDecodeURI(requestPath);
  return UNSAFE.test(name) ? null : name;
}

/** A Range value sluice reads as RFC 9110 asks (one or more parts, `bytes=` first). */
const RFC_RANGES = /^bytes=[ \t]*(?:\d*[ \t]*-[ \t]*\d*)(?:[ \t]*,[ \t]*\d*[ \t]*-[ \t]*\d*)*[ \t]*$/;
/** The single range @hono/node-server reads, `bytes=` optional. */
const PEER_RANGE = /^(?:bytes=)?(?!-$)(\d*)-(\d*)$/;
/** A first byte past any file: a range that selects nothing (416). */
const NOTHING = `bytes=${Number.MAX_SAFE_INTEGER}-`;

/**
 * The Range header @hono/node-server's serveStatic would act on, written so
 * sluice acts the same: `0-9` is `bytes=0-9`, an inverted range selects
 * nothing (416), and what neither reads is the whole file (`bytes=0-`, a
 * 206). A well-formed multi-part header is left as it is.
 */
export function lenientRange(value: string): string {
  const peer = PEER_RANGE.exec(value);
  if (peer !== null) {
    const [, first, last] = peer;
    if (first !== '' && last !== '' && Number(first) > Number(last)) return NOTHING;
    return value.startsWith('bytes=') ? value : `bytes=${value}`;
  }
  if (RFC_RANGES.test(value) && !/^bytes=[ \t]*-[ \t]*$/.test(value)) return value;
  return 'bytes=0-';
}
