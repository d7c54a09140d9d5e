import type { GatewayConfig } from "../config";
import type { Logger } from "../log";
import type { Metrics } from "../ports/metrics";
import type { ProviderDirectory } from "../ports/provider";
import type { RegistrationStore } from "../ports/store";
import type { Keyring } from "./keys";

/** Everything the use cases need from the outside, injected by the runtime adapters. */
export interface GatewayDeps {
  readonly config: GatewayConfig;
  readonly store: RegistrationStore;
  readonly providers: ProviderDirectory;
  /** Secrets derived from the server key (publish secrets). */
  readonly keys: Keyring;
  readonly log: Logger;
  /** Counters and histograms of docs/operations.md; `NO_METRICS` where nothing is exported. */
  readonly metrics: Metrics;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Cryptographically strong random bytes. */
  readonly randomBytes: (length: number) => Uint8Array;
  /** Waits (a bounded retry's back-off); tests pass one that does not. */
  readonly sleep: (ms: number) => Promise<void>;
}

/** The platform's strong random source (WebCrypto, on Workers and Node alike). */
export function webCryptoRandomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  return bytes;
}

/** setTimeout as a promise. */
export function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
