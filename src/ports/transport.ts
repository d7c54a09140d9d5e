/** The request a provider hands to the transport: always a method, string headers and a string body. */
export interface HttpTransportRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signal?: AbortSignal;
  /**
   * The request's deadline, ms from now: honoured by transports that say so
   * ({@link HttpTransport.enforcesTimeout}); the global `fetch` ignores it, and a caller that needs a
   * deadline there passes a `signal`.
   */
  readonly timeoutMs?: number;
}

/** The part of a fetch `Response` that providers read. */
export interface HttpTransportResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * The fetch-like seam every provider talks through (docs/architecture.md: inject the transport). On Workers it is
 * the global `fetch`; on Node and Lambda a `node:http2` session satisfies it, since APNs speaks HTTP/2
 * only. Providers never touch the global `fetch` themselves, so tests hand them canned responses.
 * @see https://developer.mozilla.org/docs/Web/API/Window/fetch
 */
export interface HttpTransport {
  (url: string, init: HttpTransportRequest): Promise<HttpTransportResponse>;
  /**
   * True when the transport fails a request whose {@link HttpTransportRequest.timeoutMs} passed (with an
   * error named `TimeoutError`), so that a caller needs no timer or AbortSignal of its own.
   */
  readonly enforcesTimeout?: boolean;
}
