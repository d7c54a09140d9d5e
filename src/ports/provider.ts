import type { PushBudget } from "../domain/budget";
import type { PushNotification } from "../domain/notification";
import type { PushOutcome } from "../domain/outcome";
import type { ProviderId, Registration } from "../domain/registration";

/** One push to send. */
export interface PushRequest {
  readonly registration: Registration;
  readonly notification: PushNotification;
  readonly budget: PushBudget;
  /** Leave out `encrypted` and `iv`: the fallback for a blob refused as too large (docs/protocol.md 6.4). */
  readonly withoutEncrypted?: boolean;
}

/**
 * One push platform behind one interface (Sygnal's pushkins, p2's PushService): the publish use case
 * never branches on APNs vs FCM vs SNS.
 */
export interface PushProvider {
  readonly id: ProviderId;
  /** Sends one push; only programming faults throw, everything the provider says is an outcome. */
  send(request: PushRequest): Promise<PushOutcome>;
  /**
   * How many bytes the base64 `encrypted` string may have for this registration: the provider's body
   * limit minus the real envelope around it (docs/protocol.md 6.4).
   */
  maxPayloadSize(registration: Registration): number;
}

/** The providers configured on this gateway, per app (`APPS`, docs/protocol.md section 8). */
export interface ProviderDirectory {
  /** The provider of an app, or undefined when that app does not configure it. */
  get(app: string, provider: ProviderId): PushProvider | undefined;
  /** Provider ids offered by at least one app (for disco). */
  offered(): readonly ProviderId[];
  /** Whether the app exists. */
  hasApp(app: string): boolean;
}
