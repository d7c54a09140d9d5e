/** A JID split into its parts (RFC 7622), local part and domain lowercased. */
export interface Jid {
  readonly local?: string;
  readonly domain: string;
  readonly resource?: string;
}

const FORBIDDEN_LOCAL = /[\s"&'/:<>@]/;
const FORBIDDEN_DOMAIN = /[\s"&'/:<>@\\]/;

/**
 * Parses a JID; undefined when it is not one. Case folding is the ASCII lowercase of the local part
 * and domain (full PRECIS profiles are beyond what the push service needs to compare accounts).
 * @see https://www.rfc-editor.org/rfc/rfc7622#section-3
 */
export function parseJid(text: string | undefined): Jid | undefined {
  if (text === undefined || text.length === 0 || text.length > 3071) return undefined;
  const slash = text.indexOf("/");
  const bare = slash === -1 ? text : text.slice(0, slash);
  const resource = slash === -1 ? undefined : text.slice(slash + 1);
  if (resource !== undefined && (resource.length === 0 || resource.length > 1023)) return undefined;
  const at = bare.indexOf("@");
  const local = at === -1 ? undefined : bare.slice(0, at);
  const domain = (at === -1 ? bare : bare.slice(at + 1)).replace(/\.$/, "");
  if (local !== undefined && (local.length === 0 || local.length > 1023 || FORBIDDEN_LOCAL.test(local)))
    return undefined;
  if (domain.length === 0 || domain.length > 1023 || FORBIDDEN_DOMAIN.test(domain)) return undefined;
  return {
    ...(local !== undefined ? { local: local.toLowerCase() } : {}),
    domain: domain.toLowerCase(),
    ...(resource !== undefined ? { resource } : {}),
  };
}

/** `local@domain` or `domain`. */
export function bareJid(jid: Jid): string {
  return jid.local === undefined ? jid.domain : `${jid.local}@${jid.domain}`;
}

/** The JID with its resource. */
export function fullJid(jid: Jid): string {
  return jid.resource === undefined ? bareJid(jid) : `${bareJid(jid)}/${jid.resource}`;
}
