import type { HttpTransport, HttpTransportRequest, HttpTransportResponse } from "../../src/ports/transport";

/** A request the fake transport saw. */
export interface RecordedRequest extends HttpTransportRequest {
  readonly url: string;
}

/** A canned answer: a response, a network failure, or no answer at all (until the request is aborted). */
export type FakeReply =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly networkError: string }
  | { readonly hang: true };

export type FakeHandler = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

interface Route {
  readonly matches: (url: string) => boolean;
  readonly handler: FakeHandler;
}

function toResponse(reply: Extract<FakeReply, { status: number }>): HttpTransportResponse {
  const headers = new Headers(reply.headers);
  const text = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  return { status: reply.status, headers, text: async () => text };
}

/**
 * A programmable stand-in for the provider transport: routes by URL prefix to handlers or to a queue
 * of canned replies (the last one repeats), records every request, and honours the abort signal.
 */
export class FakeTransport {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: Route[] = [];

  /** Answers requests whose URL starts with `prefix` by `handler`; later routes win. */
  on(prefix: string, handler: FakeHandler): this {
    this.routes.unshift({ matches: (url) => url.startsWith(prefix), handler });
    return this;
  }

  /** Answers requests whose URL starts with `prefix` with the replies in turn, repeating the last. */
  reply(prefix: string, ...replies: FakeReply[]): this {
    const queue = [...replies];
    return this.on(prefix, () => {
      const next = queue.length > 1 ? queue.shift() : queue[0];
      if (next === undefined) throw new Error(`no reply queued for ${prefix}`);
      return next;
    });
  }

  /** The requests made to URLs starting with `prefix`. */
  to(prefix: string): RecordedRequest[] {
    return this.requests.filter((request) => request.url.startsWith(prefix));
  }

  readonly fetch: HttpTransport = async (url, init) => {
    const request: RecordedRequest = { url, ...init };
    this.requests.push(request);
    const route = this.routes.find((candidate) => candidate.matches(url));
    if (!route) throw new Error(`fake transport: no route for ${url}`);
    const reply = await route.handler(request);
    if ("networkError" in reply) throw new TypeError(reply.networkError);
    if ("hang" in reply)
      return new Promise<HttpTransportResponse>((_resolve, reject) => {
        const signal = init.signal;
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    return toResponse(reply);
  };
}
