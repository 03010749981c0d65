/**
 * Accept-Encoding × precompressed variants on disk → which file to send
 * (RFC 9110 §12.5.3). Pure; malformed members are skipped, never thrown on.
 */

export type Encoding = 'br' | 'zstd' | 'gzip' | 'deflate' | 'identity';

/** A content coding a precompressed file on disk can carry. */
export type ContentCoding = Exclude<Encoding, 'identity'>;

/** Members we look at; more is hostile, and the first ones decide anyway. */
export const MAX_ACCEPT_ENCODING_MEMBERS = 64;

interface Preferences {
  /** q by coding for codings the client names explicitly. */
  explicit: Map<string, number>;
  /** q of `*`, if present: covers every coding not listed. */
  star: number | undefined;
  /** Lowest non-zero q listed: what an unlisted identity gets (as in negotiator). */
  lowestQ: number;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;
// token (RFC 9110 §5.6.2)
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The acceptable encoding in `available` with the highest q, ties going to
 * the earlier entry in `available` (server preference). null when none is
 * acceptable: the caller chooses between 406 and identity anyway.
 */
export function negotiateEncoding(acceptEncoding: string | undefined, available: readonly Encoding[]): Encoding | null {
  const prefs = parseAcceptEncoding(acceptEncoding ?? '');
  let best: Encoding | null = null;
  let bestQ = 0;
  for (const encoding of available) {
    const q = qualityOf(encoding, prefs);
    if (q > bestQ) {
      best = encoding;
      bestQ = q;
    }
  }
  return best;
}

/**
 * An absent or empty header leaves only identity acceptable. Identity is
 * acceptable unless excluded by `identity;q=0`, or by `*;q=0` when identity is
 * not listed; any other coding must be named or covered by `*`. An unlisted
 * identity ranks with the least preferred listed coding, so `gzip;q=0.8`
 * still gets gzip: naming codings at all says the client prefers them.
 */
function qualityOf(encoding: Encoding, prefs: Preferences): number {
  const q = prefs.explicit.get(encoding);
  if (q !== undefined) return q;
  if (prefs.star !== undefined) return prefs.star;
  return encoding === 'identity' ? prefs.lowestQ : 0;
}

function parseAcceptEncoding(header: string): Preferences {
  const prefs: Preferences = { explicit: new Map(), star: undefined, lowestQ: 1 };
  const members = header.split(',', MAX_ACCEPT_ENCODING_MEMBERS);
  for (const member of members) {
    const parsed = parseMember(member);
    if (parsed === null) continue;
    const [coding, q] = parsed;
    if (q > 0 && q < prefs.lowestQ) prefs.lowestQ = q;
    if (coding === '*') {
      prefs.star = minDefined(prefs.star, q);
    } else {
      prefs.explicit.set(coding, minDefined(prefs.explicit.get(coding), q));
    }
  }
  return prefs;
}

/**
 * `coding *( OWS ";" OWS param )` → [lower-case coding, q], or null if
 * malformed. Unknown parameters are ignored; a bad q discards the member.
 */
function parseMember(member: string): [string, number] | null {
  const params = member.split(';');
  const coding = params[0].trim().toLowerCase();
  if (!TOKEN.test(coding)) return null;
  let q = 1;
  for (let i = 1; i < params.length; i++) {
    const eq = params[i].indexOf('=');
    if (eq < 0) continue;
    if (params[i].slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = params[i].slice(eq + 1).trim();
    if (!QVALUE.test(value)) return null;
    q = Number(value);
  }
  // x-gzip is gzip's registered alias (RFC 9110 §8.4.1.3).
  return [coding === 'x-gzip' ? 'gzip' : coding, q];
}

/**
 * A coding listed twice (`gzip, gzip;q=0`, or gzip and x-gzip) keeps its lower
 * q: never send what the client has said, anywhere, it cannot decode.
 */
function minDefined(current: number | undefined, q: number): number {
  return current === undefined ? q : Math.min(current, q);
}
