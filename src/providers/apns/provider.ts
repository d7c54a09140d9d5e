import type { CryptoKey } from "jose";
import type { PushBudget } from "../../domain/budget";
import type { PushOutcome } from "../../domain/outcome";
import type { ApnsEnvironment, Registration } from "../../domain/registration";
import { type CredentialCache, CredentialUnavailable, type MintedCredential } from "../../ports/credentials";
import type { PushProvider, PushRequest } from "../../ports/provider";
import type { HttpTransport } from "../../ports/transport";
import { BUDGET_SPENT } from "../budget-spent";
import { CapacityMemo } from "../capacity-memo";
import { advertisedMaxPayloadSize, fitsUtf8, utf8Length } from "../payload-measure";
import { requestWithDeadline } from "../provider-request";
import { type ApnsAnswer, apnsOutcome, readApnsAnswer } from "./answer";
import type { ApnsAppConfig } from "./config";
import { type ApnsPush, apnsBodyLimit, apnsPayloadCapacity, apnsRequestHeaders, buildApnsPush } from "./payload";
import { apnsCredentialKey, mintApnsProviderToken } from "./provider-token";

export interface ApnsProviderOptions {
  readonly app: ApnsAppConfig;
  /** The app's .p8 key, imported for ES256 (see `createProviderDirectory`). */
  readonly signingKey: CryptoKey;
  readonly transport: HttpTransport;
  readonly credentials: CredentialCache;
  readonly now: () => number;
}

/** Per-send state: the provider token is re-minted at most once per push. */
interface SendState {
  reminted: boolean;
}

type Attempt =
  | { readonly answered: true; readonly answer: ApnsAnswer }
  | { readonly answered: false; readonly outcome: PushOutcome };

/** What nearly every attempt gets: made once (attempts never change what they return). */
const ANSWERED_200: Attempt = Object.freeze({ answered: true, answer: Object.freeze({ status: 200 }) });

/**
 * APNs over HTTP/2 with token authentication (docs/protocol.md 6.1). Besides the one bounded retry the
 * publish use case may make, it retries only twice, each time taking from the budget: in the sandbox
 * once when production says `BadDeviceToken`, and once after re-minting on `ExpiredProviderToken`.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export class ApnsProvider implements PushProvider {
  readonly id = "apns" as const;
  /** The credential-cache key of the app's signing identity, and the mint behind it: made once. */
  private readonly credentialKey: string;
  private readonly mint: () => Promise<MintedCredential>;
  /** {@link payloadCapacity} by registration shape (it depends on the account and on a PushKit token only). */
  private readonly capacities = new CapacityMemo();
  private lastToken = "";
  private lastAuthorization = "";

  constructor(private readonly options: ApnsProviderOptions) {
    const { app, signingKey, now } = options;
    this.credentialKey = apnsCredentialKey(app);
    this.mint = () => mintApnsProviderToken({ teamId: app.teamId, keyId: app.keyId, signingKey }, now());
  }

  async send(request: PushRequest): Promise<PushOutcome> {
    const { registration, budget } = request;
    const push = buildApnsPush(registration, request.notification, { withoutEncrypted: request.withoutEncrypted });
    const limit = apnsBodyLimit(push);
    // Counted only when the length alone cannot tell (fitsUtf8): most bodies are far below the limit.
    if (!fitsUtf8(push.body, limit))
      return { kind: "payload-rejected", reason: `APNs body of ${utf8Length(push.body)} bytes is over ${limit}` };
    const state: SendState = { reminted: false };
    const environment = registration.environment ?? this.options.app.environment;
    const first = await this.attempt(push, environment, budget, state);
    if (!first.answered) return first.outcome;
    if (environment === "production" && first.answer.reason === "BadDeviceToken") {
      const second = await this.attempt(push, "sandbox", budget, state);
      if (!second.answered) return second.outcome;
      const outcome = apnsOutcome(second.answer);
      return outcome.kind === "delivered" ? { kind: "delivered", environment: "sandbox" } : outcome;
    }
    return apnsOutcome(first.answer);
  }

  /** The figure advertised as `max-payload-size`, with room for Tigase's trimming (docs/protocol.md 6.4). */
  maxPayloadSize(registration: Registration): number {
    return advertisedMaxPayloadSize(this.payloadCapacity(registration));
  }

  /**
   * The longest base64 `encrypted` text that fits every push to this registration: what a publish's blob
   * must be measured against before the fallback push is chosen (docs/protocol.md 6.4).
   */
  payloadCapacity(registration: Registration): number {
    return this.capacities.get(registration.voipToken ? 1 : 0, registration.account, () =>
      apnsPayloadCapacity(registration),
    );
  }

  /** `bearer {token}`, made once per token rather than once per push. */
  private authorizationOf(providerToken: string): string {
    if (providerToken !== this.lastToken) {
      this.lastToken = providerToken;
      this.lastAuthorization = `bearer ${providerToken}`;
    }
    return this.lastAuthorization;
  }

  private async attempt(
    push: ApnsPush,
    environment: ApnsEnvironment,
    budget: PushBudget,
    state: SendState,
  ): Promise<Attempt> {
    const { app, transport, credentials, now } = this.options;
    if (!budget.take()) return { answered: false, outcome: BUDGET_SPENT };
    const key = this.credentialKey;
    // The cached token without a promise when the cache can tell at once (every push but a mint's).
    let providerToken = credentials.peek?.(key);
    if (providerToken === undefined)
      try {
        providerToken = await credentials.get(key, this.mint);
      } catch (error) {
        if (error instanceof CredentialUnavailable) return { answered: false, outcome: error.outcome };
        throw error;
      }
    const endpoint = environment === "sandbox" ? app.sandboxEndpoint : app.endpoint;
    const exchange = await requestWithDeadline(
      transport,
      `${endpoint}/3/device/${encodeURIComponent(push.deviceToken)}`,
      {
        method: "POST",
        headers: apnsRequestHeaders(push, app.topic, now(), this.authorizationOf(providerToken)),
        body: push.body,
      },
      budget.remainingMs(),
    );
    if (!exchange.ok) return { answered: false, outcome: exchange.outcome };
    // A success says nothing more (APNs answers 200 with an empty body): nothing to read.
    const { status } = exchange.response;
    if (status === 200) return ANSWERED_200;
    if (status > 200 && status < 300) return { answered: true, answer: { status } };
    const answer = readApnsAnswer(exchange.response, now());
    if (answer.status === 403 && answer.reason === "ExpiredProviderToken" && !state.reminted) {
      state.reminted = true;
      await credentials.invalidate(key, providerToken);
      return this.attempt(push, environment, budget, state);
    }
    return { answered: true, answer };
  }
}
