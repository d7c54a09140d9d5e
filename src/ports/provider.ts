import type { PushBudget } from "../domain/budget";
import type { PushNotification } from "../domain/notification";
import type { PushOutcome } from "../domain/outcome";
import type { ProviderId, Registration } from "../domain/registration";
import type { Result } from "../domain/result";

/** One push to send. */
export interface PushRequest {
  readonly registration: Registration;
  readonly notification: PushNotification;
  readonly budget: PushBudget;
  /** Leave out `encrypted` and `iv`: the fallback for a blob refused as too large (docs/protocol.md 6.4). */
  readonly withoutEncrypted?: boolean;
}

/**
 * What the use cases know of a provider, from its descriptor (docs/architecture.md section 4.1): enough to
 * offer its commands and disco feature and to read the names clients send, without naming it in code.
 */
export interface ProviderInfo {
  readonly id: ProviderId;
  /** For humans: command names ("Register for APNs push"). */
  readonly title: string;
  /** The disco feature clients look for (Siskin requires `tigase:messenger:apns:1`). */
  readonly feature: string;
  /** Every name a client may send for it in a `provider` field (the feature included). */
  readonly names: readonly string[];
  /**
   * Whether its p2 registrations are kept pseudonymous, as p2 keeps them: its pushes name the account
   * only by hash (FCM's Conversations hashes), so the store needs no JID either (docs/storage.md).
   */
  readonly hashesP2Accounts: boolean;
}

/**
 * What a delivery route may need to do when a registration comes or goes (docs/architecture.md
 * section 4.2): the SNS route creates and deletes platform endpoints; direct delivery needs nothing.
 */
export interface RouteHooks {
  /**
   * After a registration was made or refreshed: returns it with the route's state (its endpoints) to
   * store, or a refusal when the platform refuses the token (the registration is then undone).
   */
  registered?(registration: Registration): Promise<Result<Registration, RouteRefusal>>;
  /** After a registration was unregistered, or deleted because another one's token died with it. */
  unregistered?(registration: Registration): Promise<void>;
  /**
   * After a registration was deleted because the provider said its token is dead (`outcome`): releases
   * what the route held and returns the nodes of the other registrations that shared the dead token's
   * route resource (one SNS endpoint serves every account on a phone), which are dead too.
   */
  tokenDead?(registration: Registration, outcome: TokenDeadOutcome): Promise<readonly string[]>;
}

/** Why a delivery route refused a registration: the field at fault and a reason for the client. */
export interface RouteRefusal {
  readonly field: "token" | "voipToken" | "environment";
  readonly reason: string;
}

/** The `token-dead` outcome a provider answered. */
export type TokenDeadOutcome = Extract<PushOutcome, { kind: "token-dead" }>;

/**
 * One push platform behind one interface (Sygnal's pushkins, p2's PushService): the publish use case
 * never branches on APNs vs FCM vs SNS.
 */
export interface PushProvider extends RouteHooks {
  readonly id: ProviderId;
  /** How its pushes reach the platform, for metrics (docs/operations.md); `direct` when absent. */
  readonly route?: "direct" | "sns";
  /** Sends one push; only programming faults throw, everything the provider says is an outcome. */
  send(request: PushRequest): Promise<PushOutcome>;
  /**
   * The `max-payload-size` told to the user's server: how long the base64 `encrypted` string may be so
   * that the server's own trimming (Tigase's) still fits the real envelope (docs/protocol.md 6.4).
   */
  maxPayloadSize(registration: Registration): number;
  /**
   * How many bytes of `encrypted` every push to this registration really holds (docs/protocol.md 6.4):
   * at least {@link maxPayloadSize}, which leaves room for the way Tigase's server trims. A blob longer
   * than this goes out as the fallback push at once.
   */
  payloadCapacity(registration: Registration): number;
}

/** The providers configured on this gateway, per app (`APPS`, docs/protocol.md section 8). */
export interface ProviderDirectory {
  /** The provider of an app, or undefined when that app does not configure it. */
  get(app: string, provider: ProviderId): PushProvider | undefined;
  /** Provider ids offered by at least one app (for disco). */
  offered(): readonly ProviderId[];
  /** Whether the app exists. */
  hasApp(app: string): boolean;
  /** Every provider this gateway knows (configured or not), in the order commands are listed. */
  catalog(): readonly ProviderInfo[];
  /** The provider a client means by `name` (`apns`, `tigase:messenger:apns:1`, `fcm-http-v1`, …). */
  named(name: string): ProviderInfo | undefined;
}
