/**
 * Request bodies under a byte cap, without a second copy of the request: what `hono/body-limit` did,
 * whose wrapping stream and second `Request` were one of the largest costs of a publish on Node
 * (bench/RESULTS.md, "Publish path").
 */

/**
 * Whether a `Content-Length` header declares more than `max` bytes (RFC 9110 section 8.6), so that the
 * request can be refused before anything else is read or checked. A header that is not one decimal
 * length is left to the runtime's HTTP parser, which refuses it; the read cap below still holds.
 */
export function declaresTooMuch(contentLength: string | null | undefined, max: number): boolean {
  if (contentLength === null || contentLength === undefined) return false;
  const trimmed = contentLength.trim();
  if (!/^\d+$/.test(trimmed)) return false;
  return trimmed.length > 15 || Number(trimmed) > max;
}

/**
 * The body's bytes, or `undefined` when it is over `max` bytes. With a declared length within the cap the
 * body is read in one call (the runtimes' HTTP parsers deliver no more than the declared length: on Node
 * @hono/node-server reads it straight from the socket); without one (chunked) it is read chunk by chunk
 * and the read is cancelled at the first byte past the cap, so an endless body costs at most `max` bytes.
 */
export async function readCappedBody(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (declaresTooMuch(declared, max)) return undefined;
    const bytes = new Uint8Array(await request.arrayBuffer());
    return bytes.byteLength > max ? undefined : bytes;
  }
  const body = request.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The bytes as UTF-8 text, or `undefined` when they are not valid UTF-8: XMPP is UTF-8 only and a stanza
 * with bad bytes is refused, not repaired with U+FFFD (RFC 6120 section 11.6, bad-format).
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
