import type { PushOutcome } from "../domain/outcome";
import type { HttpTransport } from "../ports/transport";

/** No single provider request waits longer than this, even when the publish has more time left. */
export const PROVIDER_REQUEST_TIMEOUT_MS = 10_000;

/** A provider's answer, its body read. */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: string;
}

/** The outcome of a request that got no answer: always transient. */
export type RetryLaterOutcome = Extract<PushOutcome, { kind: "retry-later" }>;

export type ProviderExchange =
  | { readonly ok: true; readonly response: ProviderResponse }
  | { readonly ok: false; readonly outcome: RetryLaterOutcome };

/** What a provider sends; the signal is added here. */
export interface ProviderRequestInit {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function isTimeout(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "TimeoutError";
}

/* Made only when the request timed out, not on every request. */
function timedOut(timeoutMs: number): RetryLaterOutcome {
  return { kind: "retry-later", reason: `no answer within ${timeoutMs} ms` };
}

function describeFailure(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Sends one request through the transport and reads its body, giving up after the time left in the
 * publish's budget (at most {@link PROVIDER_REQUEST_TIMEOUT_MS}). A timeout or a network error is a
 * `retry-later` outcome, never an exception; the timer is always cleared. A transport that ignores
 * the abort signal still yields at the deadline.
 * @see https://developer.mozilla.org/docs/Web/API/AbortController
 */
export async function requestWithDeadline(
  transport: HttpTransport,
  url: string,
  init: ProviderRequestInit,
  remainingMs: number,
): Promise<ProviderExchange> {
  const timeoutMs = Math.max(1, Math.min(remainingMs, PROVIDER_REQUEST_TIMEOUT_MS));
  // A transport that enforces the deadline itself (Http2Transport: one timer for all its requests)
  // needs no AbortController, timer and race of its own per request.
  if (transport.enforcesTimeout === true) {
    try {
      const response = await transport(url, { method: init.method, headers: init.headers, body: init.body, timeoutMs });
      const body = await response.text();
      return { ok: true, response: { status: response.status, headers: response.headers, body } };
    } catch (error) {
      // By name: Node's transport throws an Error, Workers' AbortSignal.timeout a DOMException.
      if (isTimeout(error)) return { ok: false, outcome: timedOut(timeoutMs) };
      return { ok: false, outcome: { kind: "retry-later", reason: `network error: ${describeFailure(error)}` } };
    }
  }
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, timeoutMs);
  });
  const exchange = (async (): Promise<ProviderResponse> => {
    const response = await transport(url, Object.assign({}, init, { signal: controller.signal }));
    const body = await response.text();
    return { status: response.status, headers: response.headers, body };
  })();
  exchange.catch(() => undefined);
  try {
    const result = await Promise.race([exchange, deadline]);
    if (result === "timeout") return { ok: false, outcome: timedOut(timeoutMs) };
    return { ok: true, response: result };
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, outcome: timedOut(timeoutMs) };
    return { ok: false, outcome: { kind: "retry-later", reason: `network error: ${describeFailure(error)}` } };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
