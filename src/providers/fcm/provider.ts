import type { CryptoKey } from "jose";
import type { PushOutcome } from "../../domain/outcome";
import type { Registration } from "../../domain/registration";
import { type CredentialCache, CredentialUnavailable } from "../../ports/credentials";
import type { PushProvider, PushRequest } from "../../ports/provider";
import type { HttpTransport } from "../../ports/transport";
import { BUDGET_SPENT } from "../budget-spent";
import { CapacityMemo } from "../capacity-memo";
import { advertisedMaxPayloadSize, fitsUtf8 } from "../payload-measure";
import { type ProviderResponse, requestWithDeadline } from "../provider-request";
import { parseRetryAfter } from "../retry-after";
import { fcmCredentialKey, mintFcmAccessToken } from "./access-token";
import type { FcmAppConfig } from "./config";
import { classifyFcmError } from "./error-codes";
import {
  buildFcmMessage,
  buildFcmPush,
  carriesAddressOnly,
  FCM_DATA_LIMIT,
  type FcmMessage,
  fcmDataSize,
  fcmPayloadCapacity,
} from "./message";

export interface FcmProviderOptions {
  readonly app: FcmAppConfig;
  /** The service account's `private_key`, imported for RS256 (see `createProviderDirectory`). */
  readonly signingKey: CryptoKey;
  readonly transport: HttpTransport;
  readonly credentials: CredentialCache;
  readonly now: () => number;
}

/** The outcome of nearly every push, made once (outcomes are never changed after they are made). */
const DELIVERED: PushOutcome = Object.freeze({ kind: "delivered" });

/**
 * FCM HTTP v1 with a service account (docs/protocol.md 6.2): one `messages:send` request per push, taken
 * from the budget; the OAuth token request in front of it is not. It never retries: the publish use
 * case makes the one bounded retry.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 */
export class FcmProvider implements PushProvider {
  readonly id = "fcm" as const;
  /** The credential-cache key of the service account and the `messages:send` URL: made once. */
  private readonly credentialKey: string;
  private readonly sendUrl: string;
  /** {@link payloadCapacity} by account (all it depends on). */
  private readonly capacities = new CapacityMemo();

  constructor(private readonly options: FcmProviderOptions) {
    const { app } = options;
    this.credentialKey = fcmCredentialKey(app.serviceAccount);
    this.sendUrl = `${app.endpoint}/v1/projects/${encodeURIComponent(app.serviceAccount.project_id)}/messages:send`;
  }

  async send(request: PushRequest): Promise<PushOutcome> {
    const { budget } = request;
    const { app, transport, credentials, now } = this.options;
    const built = this.messageOf(request);
    const message = built instanceof Promise ? await built : built;
    // The data's JSON is part of the body: a body short enough that it cannot be over the limit is not measured.
    if (!fitsUtf8(message.body, FCM_DATA_LIMIT)) {
      const bytes = fcmDataSize(message.data);
      if (bytes > FCM_DATA_LIMIT)
        return { kind: "payload-rejected", reason: `FCM data of ${bytes} bytes is over ${FCM_DATA_LIMIT}` };
    }
    if (!budget.take()) return BUDGET_SPENT;
    const key = this.credentialKey;
    // The cached token without a promise when the cache can tell at once (every push but a mint's).
    let accessToken = credentials.peek?.(key);
    if (accessToken === undefined)
      try {
        accessToken = await credentials.get(key, () =>
          mintFcmAccessToken({
            account: app.serviceAccount,
            signingKey: this.options.signingKey,
            transport,
            now,
            remainingMs: budget.remainingMs(),
          }),
        );
      } catch (error) {
        if (error instanceof CredentialUnavailable) return error.outcome;
        throw error;
      }
    const exchange = await requestWithDeadline(
      transport,
      this.sendUrl,
      {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json; charset=utf-8" },
        body: message.body,
      },
      budget.remainingMs(),
    );
    if (!exchange.ok) return exchange.outcome;
    const outcome = this.outcomeOf(exchange.response);
    if (outcome.kind === "misconfigured" && exchange.response.status === 401)
      await credentials.invalidate(key, accessToken);
    return outcome;
  }

  /** The figure advertised as `max-payload-size`, with room for Tigase's trimming (docs/protocol.md 6.4). */
  maxPayloadSize(registration: Registration): number {
    return advertisedMaxPayloadSize(this.payloadCapacity(registration));
  }

  /**
   * The longest base64 `encrypted` text that fits a push to this registration: what a publish's blob
   * must be measured against before the fallback push is chosen (docs/protocol.md 6.4).
   */
  payloadCapacity(registration: Registration): number {
    if (carriesAddressOnly(registration)) return 0;
    return this.capacities.get(0, registration.account, () => fcmPayloadCapacity(registration));
  }

  /** The message of a push: built at once for token-style registrations (no hash to compute). */
  private messageOf(request: PushRequest): FcmMessage | Promise<FcmMessage> {
    const { registration, notification, withoutEncrypted } = request;
    if (registration.style !== "device")
      return buildFcmMessage(registration.token, { account: registration.account }, notification, {
        withoutEncrypted,
        addressOnly: false,
      });
    return buildFcmPush(registration, notification, { withoutEncrypted });
  }

  private outcomeOf(response: ProviderResponse): PushOutcome {
    if (response.status >= 200 && response.status < 300) return DELIVERED;
    const { disposition, code, message } = classifyFcmError(response.status, response.body);
    const reason = `FCM ${response.status} ${code}${message !== undefined ? `: ${message}` : ""}`;
    switch (disposition) {
      case "retry-later": {
        const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), this.options.now());
        return { kind: disposition, reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      }
      case "token-dead":
      case "payload-rejected":
      case "misconfigured":
      case "rejected":
        return { kind: disposition, reason };
    }
  }
}
