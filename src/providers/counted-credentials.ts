import { isProviderId, type ProviderId } from "../domain/registration";
import type { CredentialCache } from "../ports/credentials";
import type { Metrics } from "../ports/metrics";

/** The provider a credential-cache key belongs to (`apns:TEAM:KEY`, `fcm:client@…`). */
function providerOfKey(key: string): ProviderId | undefined {
  const prefix = key.slice(0, key.indexOf(":"));
  return isProviderId(prefix) ? prefix : undefined;
}

/**
 * The cache, counting every mint it really makes (not the copies it finds cached or shared) as
 * `minted` or `failed` per provider (docs/operations.md): a busy gateway mints an APNs provider token
 * about once per 50 minutes; many more is what makes Apple answer `TooManyProviderTokenUpdates`.
 */
export function countTokenMints(cache: CredentialCache, metrics: Metrics): CredentialCache {
  return {
    get(key, mint) {
      const provider = providerOfKey(key);
      if (provider === undefined) return cache.get(key, mint);
      return cache.get(key, async () => {
        try {
          const minted = await mint();
          metrics.count("providerTokenMints", { provider, result: "minted" });
          return minted;
        } catch (error) {
          metrics.count("providerTokenMints", { provider, result: "failed" });
          throw error;
        }
      });
    },
    invalidate: (key, value) => cache.invalidate(key, value),
    // The synchronous path to a cached token stays visible through the counting wrapper.
    ...(cache.peek !== undefined ? { peek: (key: string) => cache.peek?.(key) } : {}),
  };
}
