import type { LogFields, Logger } from "../log";
import { buildWaitError, domainOf, type IncomingStanza, isIqRequest, type StanzaHead } from "./stanza";

/** The gateway's HTTP answer to one posted stanza. */
export interface GatewayAnswer {
  readonly status: number;
  readonly body: string;
}

/** Posts stanza text to the gateway's `/xmpp`; aborted through `signal` when the relay gives up. */
export type PostStanza = (text: string, signal: AbortSignal) => Promise<GatewayAnswer>;

/** Writes raw text to the XMPP stream. */
export type SendText = (text: string) => Promise<void>;

/** Why a stanza did not get the gateway's own reply. */
export type RelayProblem =
  | "unreachable"
  | "timeout"
  | "http-status"
  | "no-reply"
  | "bad-reply"
  | "overloaded"
  | "closing";

/** What the relay did with one stanza. */
export interface RelayOutcome {
  /** What went back on the stream: the gateway's reply, the bridge's own `wait` error, or nothing. */
  readonly reply: "gateway" | "wait" | "none";
  readonly problem?: RelayProblem;
  /** The gateway's HTTP status, when it answered. */
  readonly status?: number;
}

export interface RelayOptions {
  /** The push service's JID: the `from` of a fallback reply to a request that had no `to`. */
  readonly jid: string;
  readonly post: PostStanza;
  readonly send: SendText;
  readonly log: Logger;
  /** How long the gateway may take (ms); longer is answered `wait`. Default 30 s (docs/protocol.md 2). */
  readonly timeoutMs?: number;
  /** Most stanzas posted at once; beyond that IQ requests are answered `wait` at once. Default 64. */
  readonly maxInFlight?: number;
  readonly now?: () => number;
}

export const DEFAULT_RELAY_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_IN_FLIGHT = 64;

type Exchange =
  | { readonly kind: "answer"; readonly answer: GatewayAnswer }
  | { readonly kind: "unreachable"; readonly detail: string }
  | { readonly kind: "timeout" };

interface Flight {
  readonly head: StanzaHead;
  readonly request: boolean;
  readonly controller: AbortController;
  answered: boolean;
}

/** A short description of a failure: fetch's message and its cause's code (`ECONNREFUSED`) or message. */
function errorDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200);
  const { cause } = error;
  let because: string | undefined;
  if (cause instanceof Error)
    because = "code" in cause && cause.code !== undefined ? String(cause.code) : cause.message;
  return (because ? `${error.message}: ${because}` : error.message).slice(0, 200);
}

function looksLikeIq(body: string): boolean {
  const text = body.trim();
  return /^<iq[\s>/]/.test(text) && text.endsWith(">");
}

/**
 * Relays stanza text between the XMPP stream and the gateway (docs/protocol.md sections 1 and 2): every
 * stanza is posted; an IQ request gets the gateway's reply written back verbatim, or, when the
 * gateway is unreachable, slow, or answers anything but 200, the bridge's own `wait` /
 * `internal-server-error`. No IQ request is ever left unanswered; nothing else is ever answered.
 */
export class Relay {
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly now: () => number;
  private readonly flights = new Set<Flight>();
  private closing = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: RelayOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RELAY_TIMEOUT_MS;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.now = options.now ?? Date.now;
  }

  /** Stanzas posted and not yet settled. */
  get inFlight(): number {
    return this.flights.size;
  }

  /** Relays one stanza; resolves when it is settled (the reply written, or nothing to write). */
  async relay(stanza: IncomingStanza): Promise<RelayOutcome> {
    const { head } = stanza;
    const request = isIqRequest(head);
    if (this.closing) return this.refuse(head, request, "closing");
    if (this.flights.size >= this.maxInFlight) return this.refuse(head, request, "overloaded");
    const flight: Flight = { head, request, controller: new AbortController(), answered: false };
    this.flights.add(flight);
    try {
      return await this.carry(flight, stanza.text);
    } finally {
      this.flights.delete(flight);
      if (this.flights.size === 0) this.idle?.();
    }
  }

  /**
   * Stops taking stanzas (IQ requests arriving from now on are answered `wait`), waits up to
   * `graceMs` for those in flight, then answers the IQ requests still waiting with `wait`.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.flights.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.idle = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const abandoned = [...this.flights];
    await Promise.all(
      abandoned.map(async (flight) => {
        flight.controller.abort();
        if (flight.request) await this.answer(flight, buildWaitError(flight.head, this.options.jid));
        else flight.answered = true;
        this.record(flight.head, { reply: flight.request ? "wait" : "none", problem: "closing" });
      }),
    );
  }

  private async carry(flight: Flight, text: string): Promise<RelayOutcome> {
    const started = this.now();
    const exchange = await this.exchange(text, flight.controller);
    const latencyMs = this.now() - started;
    if (flight.answered) return { reply: flight.request ? "wait" : "none", problem: "closing" };
    const outcome = this.decide(exchange, flight.request);
    if (outcome.reply === "gateway" && exchange.kind === "answer") await this.answer(flight, exchange.answer.body);
    else if (outcome.reply === "wait") await this.answer(flight, buildWaitError(flight.head, this.options.jid));
    else flight.answered = true;
    this.record(flight.head, outcome, {
      latencyMs,
      ...(exchange.kind === "unreachable" ? { detail: exchange.detail } : {}),
    });
    return outcome;
  }

  private decide(exchange: Exchange, request: boolean): RelayOutcome {
    const failed = (problem: RelayProblem, status?: number): RelayOutcome => ({
      reply: request ? "wait" : "none",
      problem,
      ...(status === undefined ? {} : { status }),
    });
    if (exchange.kind === "timeout") return failed("timeout");
    if (exchange.kind === "unreachable") return failed("unreachable");
    const { status, body } = exchange.answer;
    if (status === 200) {
      if (!request) return { reply: "none", status };
      return looksLikeIq(body) ? { reply: "gateway", status } : failed("bad-reply", status);
    }
    if (status === 204) return request ? failed("no-reply", status) : { reply: "none", status };
    return failed("http-status", status);
  }

  private async exchange(text: string, controller: AbortController): Promise<Exchange> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<Exchange>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ kind: "timeout" });
      }, this.timeoutMs);
    });
    const posted = (async (): Promise<Exchange> => {
      try {
        return { kind: "answer", answer: await this.options.post(text, controller.signal) };
      } catch (error) {
        return { kind: "unreachable", detail: errorDetail(error) };
      }
    })();
    try {
      return await Promise.race([posted, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async refuse(head: StanzaHead, request: boolean, problem: RelayProblem): Promise<RelayOutcome> {
    const outcome: RelayOutcome = { reply: request ? "wait" : "none", problem };
    if (request) {
      const flight: Flight = { head, request, controller: new AbortController(), answered: false };
      await this.answer(flight, buildWaitError(head, this.options.jid));
    }
    this.record(head, outcome);
    return outcome;
  }

  /** Writes the one reply of a flight; later attempts (a gateway answer after shutdown) are ignored. */
  private async answer(flight: Flight, text: string): Promise<void> {
    if (flight.answered) return;
    flight.answered = true;
    try {
      await this.options.send(text);
    } catch (error) {
      this.options.log.log("warn", "reply-not-sent", { ...this.headFields(flight.head), detail: errorDetail(error) });
    }
  }

  private headFields(head: StanzaHead): LogFields {
    return { kind: head.name, type: head.type, id: head.id?.slice(0, 64), from: domainOf(head.from)?.slice(0, 100) };
  }

  private record(head: StanzaHead, outcome: RelayOutcome, extra: LogFields = {}): void {
    this.options.log.log(outcome.problem ? "warn" : "info", "stanza", {
      ...this.headFields(head),
      status: outcome.status,
      reply: outcome.reply,
      problem: outcome.problem,
      ...extra,
    });
  }
}
