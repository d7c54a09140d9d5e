import type { CryptoKey } from "jose";
import type { PushOutcome } from "../../domain/outcome";
import type { Registration } from "../../domain/registration";
import { type CredentialCache, CredentialUnavailable } from "../../ports/credentials";
import type { PushProvider, PushRequest } from "../../ports/provider";
import type { HttpTransport } from "../../ports/transport";
import { BUDGET_SPENT } from "../budget-spent";
import { type ProviderResponse, requestWithDeadline } from "../provider-request";
import { parseRetryAfter } from "../retry-after";
import { fcmCredentialKey, mintFcmAccessToken } from "./access-token";
import type { FcmAppConfig } from "./config";
import { classifyFcmError } from "./error-codes";
import { buildFcmPush, FCM_DATA_LIMIT, fcmDataSize, fcmMaxPayloadSize, fcmPayloadCapacity } from "./message";

export interface FcmProviderOptions {
  readonly app: FcmAppConfig;
  /** The service account's `private_key`, imported for RS256 (see `createProviderDirectory`). */
  readonly signingKey: CryptoKey;
  readonly transport: HttpTransport;
  readonly credentials: CredentialCache;
  readonly now: () => number;
}

/**
 * FCM HTTP v1 with a service account (docs/protocol.md 6.2): one `messages:send` request per push, taken
 * from the budget; the OAuth token request in front of it is not. It never retries: the publish use
 * case makes the one bounded retry.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 */
export class FcmProvider implements PushProvider {
  readonly id = "fcm" as const;

  constructor(private readonly options: FcmProviderOptions) {}

  async send(request: PushRequest): Promise<PushOutcome> {
    const { registration, budget } = request;
    const { app, transport, credentials, now } = this.options;
    const message = await buildFcmPush(registration, request.notification, {
      withoutEncrypted: request.withoutEncrypted,
    });
    const bytes = fcmDataSize(message.data);
    if (bytes > FCM_DATA_LIMIT)
      return { kind: "payload-rejected", reason: `FCM data of ${bytes} bytes is over ${FCM_DATA_LIMIT}` };
    if (!budget.take()) return BUDGET_SPENT;
    const key = fcmCredentialKey(app.serviceAccount);
    let accessToken: string;
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
    const projectId = encodeURIComponent(app.serviceAccount.project_id);
    const exchange = await requestWithDeadline(
      transport,
      `${app.endpoint}/v1/projects/${projectId}/messages:send`,
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
    return fcmMaxPayloadSize(registration);
  }

  /**
   * The longest base64 `encrypted` text that fits a push to this registration: what a publish's blob
   * must be measured against before the fallback push is chosen (docs/protocol.md 6.4).
   */
  payloadCapacity(registration: Registration): number {
    return fcmPayloadCapacity(registration);
  }

  private outcomeOf(response: ProviderResponse): PushOutcome {
    if (response.status >= 200 && response.status < 300) return { kind: "delivered" };
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
