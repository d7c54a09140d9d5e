import type { Context, MiddlewareHandler } from "hono";

/**
 * The port behind per-client rate limits on the unauthenticated routes (docs/protocol.md section 2, "Cost"):
 * an in-process limiter on Node, the Workers rate-limiting binding on Cloudflare.
 */
export interface RateLimiter {
  /** Whether one more request of `key` is allowed now; counts it when it is. */
  allow(key: string): Promise<boolean>;
}

/** Finds the address a request counts against; `undefined` when the runtime cannot tell. */
export type ClientAddress = (c: Context) => string | undefined;

/** Longest text taken for an IP literal (a full IPv6 with an embedded IPv4, brackets, zone and port). */
const MAX_ADDRESS_LENGTH = 100;
/** How much of a text that is no IP literal ends up in a key: keys stay small whatever a header holds. */
const MAX_OTHER_KEY_LENGTH = 64;

function parseIpv4(text: string): number[] | undefined {
  // No leading zeros: "010" is octal to some parsers and decimal to others.
  const match = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(text);
  if (match === null) return undefined;
  const bytes = match.slice(1).map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  let body = text;
  const groups: number[] = [];
  const lastColon = body.lastIndexOf(":");
  const embedded = body.slice(lastColon + 1);
  if (embedded.includes(".")) {
    // RFC 4291 section 2.2 form 3: the last 32 bits as an IPv4 dotted quad.
    const bytes = parseIpv4(embedded);
    if (bytes === undefined) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    groups.push((a << 8) | b, (c << 8) | d);
    body = body.slice(0, lastColon + 1);
    if (body.endsWith(":") && !body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] | undefined => {
    if (part === undefined || part === "") return [];
    const out: number[] = [];
    for (const group of part.split(":")) {
      if (!/^[0-9a-f]{1,4}$/.test(group)) return undefined;
      out.push(Number.parseInt(group, 16));
    }
    return out;
  };
  const left = parse(halves[0]);
  const right = parse(halves[1]);
  if (left === undefined || right === undefined) return undefined;
  const explicit = left.length + right.length + groups.length;
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    return [...left, ...Array<number>(8 - explicit).fill(0), ...right, ...groups];
  }
  return explicit === 8 ? [...left, ...groups] : undefined;
}

/**
 * An IP literal in one canonical text form, so that equal addresses compare equal: IPv4 in dotted
 * decimal, IPv6 as eight lower-case hex groups without leading zeros, an IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`, what a dual-stack socket reports for IPv4 peers) as its IPv4. Takes the forms
 * proxies write (RFC 7239 section 6: `[v6]`, `[v6]:port`, `v4:port`) and drops an IPv6 zone id.
 * `undefined` when the text is no IP literal.
 */
export function canonicalAddress(text: string): string | undefined {
  let plain = text.trim().toLowerCase();
  if (plain.length > MAX_ADDRESS_LENGTH) return undefined;
  const bracketed = /^\[([^\]]*)\](?::\d{1,5})?$/.exec(plain);
  const withPort = /^([\d.]+):\d{1,5}$/.exec(plain);
  if (bracketed?.[1] !== undefined) plain = bracketed[1];
  else if (withPort?.[1] !== undefined) plain = withPort[1];
  plain = plain.split("%")[0] ?? "";
  if (!plain.includes(":")) return parseIpv4(plain)?.join(".");
  const groups = parseIpv6(plain);
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  }
  return groups.map((group) => group.toString(16)).join(":");
}

/**
 * The key an address counts under: IPv4 as is, IPv6 by its /64 prefix (one subscriber usually holds a
 * whole /64, so counting single IPv6 addresses would give one client 2^64 budgets). Text that is no IP
 * literal counts as itself, cut short so that a key never grows with a header.
 */
export function rateLimitKey(address: string): string {
  const canonical = canonicalAddress(address);
  if (canonical === undefined) return address.trim().toLowerCase().slice(0, MAX_OTHER_KEY_LENGTH);
  if (!canonical.includes(":")) return canonical;
  return `${canonical.split(":").slice(0, 4).join(":")}::/64`;
}

/** Requests each limiter has already counted: one request can match several limited patterns. */
const countedBy = new WeakMap<RateLimiter, WeakSet<Request>>();

/**
 * Refuses a request with `429 Too Many Requests` and `Retry-After` (RFC 6585 section 4) when its client
 * is over the limit. A request whose client cannot be told (no address) counts against one shared key,
 * so it is still bounded. A request counts once per limiter, under the first limited pattern it matches
 * (`/v1/registrations/*` also matches `/v1/registrations` in Hono). `refused` hears of every refusal
 * (the metrics).
 */
export function rateLimit(
  limiter: RateLimiter,
  clientAddress: ClientAddress,
  route: string,
  refused?: (c: Context) => void,
): MiddlewareHandler {
  let counted = countedBy.get(limiter);
  if (counted === undefined) {
    counted = new WeakSet();
    countedBy.set(limiter, counted);
  }
  const seen = counted;
  return async (c, next) => {
    if (seen.has(c.req.raw)) return next();
    seen.add(c.req.raw);
    const address = clientAddress(c);
    const key = `${route}|${address === undefined ? "unknown" : rateLimitKey(address)}`;
    if (!(await limiter.allow(key))) {
      refused?.(c);
      return c.json({ error: "rate limited" }, 429, { "retry-after": "60" });
    }
    await next();
  };
}
