import type { ApnsEnvironment, RouteState } from "./registration";

/**
 * What a provider made of one push (docs/architecture.md: a dead token is an outcome, not an exception).
 * The publish use case maps each kind to the XMPP reply of docs/protocol.md section 5.
 */
export type PushOutcome = (
  | {
      readonly kind: "delivered";
      /** APNs: the environment that accepted the token, when the registration should remember it. */
      readonly environment?: ApnsEnvironment;
    }
  | {
      readonly kind: "token-dead";
      readonly reason: string;
      /** APNs 410: when Apple last knew the token valid (ms); stale if older than the last token update. */
      readonly timestamp?: number;
      /** Which of the route's resources died (an SNS endpoint's ledger key), for its `tokenDead` hook. */
      readonly resource?: string;
    }
  /** The provider refused the payload as too large: the fallback push of docs/protocol.md 6.4 applies. */
  | { readonly kind: "payload-rejected"; readonly reason: string }
  | { readonly kind: "retry-later"; readonly reason: string; readonly retryAfterMs?: number }
  /** The gateway's own configuration is wrong (credentials, topic): never the user's fault. */
  | { readonly kind: "misconfigured"; readonly reason: string }
  /** Any other refusal (an unexpected 4xx): answered `wait`, logged loudly. */
  | { readonly kind: "rejected"; readonly reason: string }
) & {
  /**
   * The delivery route's new state for the registration (an SNS endpoint it had to make during this
   * publish), to store whatever the push's fate, so that the route can release it later.
   */
  readonly route?: RouteState;
};

export type PushOutcomeKind = PushOutcome["kind"];
