import type { CredentialCache, MintCredential, MintedCredential } from "../ports/credentials";
import type { KvLike } from "../ports/key-value";

/** KV refuses an `expirationTtl` below 60 seconds. */
const KV_MIN_TTL_SECONDS = 60;
/** A shared credential this close to its expiry is not handed out: another isolate would use it late. */
const SHARED_MARGIN_MS = 60_000;
const KEY_PREFIX = "cred:";

function readShared(text: string | null, now: number): MintedCredential | undefined {
  if (text === null) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const { v, value: credential, expiresAt } = value as Record<string, unknown>;
    if (v !== 1 || typeof credential !== "string" || typeof expiresAt !== "number") return undefined;
    return expiresAt - SHARED_MARGIN_MS > now ? { value: credential, expiresAt } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Provider credentials shared between Worker isolates through KV, best effort (docs/architecture.md): each
 * isolate keeps its own single-flight memory cache and, before minting, looks for a credential another
 * isolate minted and wrote under `cred:{key}` (docs/storage.md). KV has no compare-and-set, so two
 * isolates may still mint at the same moment; what this removes is one mint per isolate per lifetime,
 * which is what makes Apple answer `TooManyProviderTokenUpdates` on a busy Worker. A Durable Object
 * would be the owner that promises a single mint.
 * @see https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
 */
export class SharedCredentialCache implements CredentialCache {
  constructor(
    private readonly local: CredentialCache,
    private readonly kv: KvLike,
    private readonly now: () => number,
  ) {}

  async get(key: string, mint: MintCredential): Promise<string> {
    return this.local.get(key, async () => {
      const shared = readShared(await this.kv.get(KEY_PREFIX + key, "text").catch(() => null), this.now());
      if (shared) return shared;
      const minted = await mint();
      const ttl = Math.max(KV_MIN_TTL_SECONDS, Math.floor((minted.expiresAt - this.now()) / 1000));
      // Sharing is an optimisation: a KV failure (or its one-write-per-second limit) costs nothing but a mint.
      await this.kv
        .put(KEY_PREFIX + key, JSON.stringify({ v: 1, value: minted.value, expiresAt: minted.expiresAt }), {
          expirationTtl: ttl,
        })
        .catch(() => undefined);
      return minted;
    });
  }

  /** What this isolate holds already (the KV copy is only read when minting). */
  peek(key: string): string | undefined {
    return this.local.peek?.(key);
  }

  async invalidate(key: string, value: string): Promise<void> {
    await this.local.invalidate(key, value);
    const shared = await this.kv.get(KEY_PREFIX + key, "text").catch(() => null);
    if (shared !== null && readShared(shared, Number.NEGATIVE_INFINITY)?.value === value)
      await this.kv.delete(KEY_PREFIX + key).catch(() => undefined);
  }
}
