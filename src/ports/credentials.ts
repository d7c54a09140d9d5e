import type { PushOutcome } from "../domain/outcome";

/** A credential and when it stops being usable (ms since the epoch, by the cache's clock). */
export interface MintedCredential {
  readonly value: string;
  readonly expiresAt: number;
}

/** Mints a fresh credential; throws {@link CredentialUnavailable} when the provider refuses. */
export type MintCredential = () => Promise<MintedCredential>;

/**
 * Provider credentials (the APNs provider token, the FCM access token) shared between pushes
 * (docs/architecture.md: credentials are cached behind a port). Apple answers `TooManyProviderTokenUpdates` to a
 * gateway that mints per request, so every implementation must be single flight: concurrent callers
 * of one key share one mint. A memory cache serves one process; across Worker isolates only a Durable
 * Object could promise a single mint.
 * @see https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 */
export interface CredentialCache {
  /** The cached credential of `key` while it has not expired, else the result of one shared `mint`. */
  get(key: string, mint: MintCredential): Promise<string>;
  /**
   * The credential {@link get} would hand out at once, without a promise: the minted, unexpired value
   * held in this process, or `undefined` (nothing cached, expired, or a mint still under way), and then
   * the caller goes through `get`. Optional: a cache without it is always asked through `get`.
   */
  peek?(key: string): string | undefined;
  /**
   * Drops the cached credential of `key` if it still is `value` (the one a provider refused), so
   * that of several callers refused with the same credential only the first causes a new mint.
   */
  invalidate(key: string, value: string): Promise<void>;
}

/** Why a credential could not be minted, as the outcome the push gets (a misconfiguration, or transient). */
export class CredentialUnavailable extends Error {
  constructor(readonly outcome: Extract<PushOutcome, { kind: "misconfigured" | "retry-later" }>) {
    super(outcome.reason);
    this.name = "CredentialUnavailable";
  }
}
