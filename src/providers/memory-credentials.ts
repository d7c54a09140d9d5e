import type { CredentialCache, MintCredential, MintedCredential } from "../ports/credentials";

interface CacheEntry {
  readonly pending: Promise<MintedCredential>;
  minted?: MintedCredential;
}

/** Credentials in process memory, single flight per key, with an injectable clock. */
export class MemoryCredentialCache implements CredentialCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(private readonly now: () => number) {}

  async get(key: string, mint: MintCredential): Promise<string> {
    const cached = this.entries.get(key);
    if (cached && (cached.minted === undefined || cached.minted.expiresAt > this.now()))
      return (await cached.pending).value;
    const entry: CacheEntry = { pending: mint() };
    this.entries.set(key, entry);
    try {
      entry.minted = await entry.pending;
      return entry.minted.value;
    } catch (error) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }
  }

  peek(key: string): string | undefined {
    const minted = this.entries.get(key)?.minted;
    return minted !== undefined && minted.expiresAt > this.now() ? minted.value : undefined;
  }

  async invalidate(key: string, value: string): Promise<void> {
    const entry = this.entries.get(key);
    if (entry?.minted?.value === value) this.entries.delete(key);
  }
}
