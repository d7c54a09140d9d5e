import type { PostStanza } from "./relay";

/**
 * Posts stanza text to the gateway's `/xmpp` endpoint (docs/protocol.md section 2) and returns its status
 * and body text; the relay decides what they mean.
 */
export function gatewayPoster(gatewayUrl: string, gatewayToken: string, fetchFn: typeof fetch = fetch): PostStanza {
  const endpoint = `${gatewayUrl}/xmpp`;
  const headers = { "content-type": "application/xml", authorization: `Bearer ${gatewayToken}` };
  return async (text, signal) => {
    const response = await fetchFn(endpoint, { method: "POST", headers, body: text, signal });
    return { status: response.status, body: await response.text() };
  };
}
