import { ConfigError } from "../config";
import { type ClientAddress, canonicalAddress } from "../http/rate-limit";

/**
 * The part of @hono/node-server's `c.env` (`HttpBindings` / `Http2Bindings`) read here, checked
 * structurally so that this module needs no Node types (the Workers type-check includes it too).
 */
interface NodeBindings {
  readonly incoming: { readonly socket: { readonly remoteAddress?: string | undefined } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isNodeBindings(env: unknown): env is NodeBindings {
  return isRecord(env) && isRecord(env.incoming) && isRecord(env.incoming.socket);
}

/** The TCP peer of a request served by @hono/node-server; `undefined` once the socket is gone. */
export function socketAddress(env: unknown): string | undefined {
  if (!isNodeBindings(env)) return undefined;
  const address = env.incoming.socket.remoteAddress;
  return typeof address === "string" ? address : undefined;
}

/**
 * The client address on Node, for the per-client limits. The socket's peer, unless that peer is one of
 * `trustedProxies`: then `X-Forwarded-For` is walked from the right (each proxy appends the address it
 * received from), skipping trusted proxies, and the first address that is not one is the client (the
 * rightmost-untrusted rule; entries left of it are whatever the client sent, so never believed). When
 * every entry is a trusted proxy the leftmost one counts; an entry that is no IP literal stops the walk
 * at the last trusted hop. A client that sends its own `X-Forwarded-For` straight to the gateway is
 * counted by its socket address.
 *
 * Only `X-Forwarded-For` is read, not RFC 7239's `Forwarded`: it is what common proxies append, and a
 * header the proxy does not write is whatever the client put there (RFC 7239 section 8.1).
 * Throws a {@link ConfigError} naming `TRUSTED_PROXIES` when an entry is no IP address.
 * @see https://www.rfc-editor.org/rfc/rfc7239#section-5.2
 */
export function nodeClientAddress(trustedProxies: readonly string[]): ClientAddress {
  const trusted = new Set<string>();
  for (const proxy of trustedProxies) {
    const canonical = canonicalAddress(proxy);
    if (canonical === undefined)
      throw new ConfigError("TRUSTED_PROXIES", `has ${proxy.slice(0, 64)}, which is not an IP address`);
    trusted.add(canonical);
  }
  return (c) => {
    const peer = socketAddress(c.env);
    if (peer === undefined) return undefined;
    const client = canonicalAddress(peer) ?? peer;
    if (!trusted.has(client)) return client;
    const forwarded = c.req.header("x-forwarded-for");
    if (forwarded === undefined) return client;
    const hops = forwarded.split(",");
    let nearest = client;
    for (let index = hops.length - 1; index >= 0; index -= 1) {
      const hop = canonicalAddress(hops[index] ?? "");
      if (hop === undefined) break;
      nearest = hop;
      if (!trusted.has(hop)) break;
    }
    return nearest;
  };
}
