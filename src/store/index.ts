export { type KvLike, type KvPutOptions, KvRegistrationStore, type KvRegistrationStoreOptions } from "./kv";
export { MemoryRegistrationStore } from "./memory";
export * from "./registration";
export type { DeletionReason, NodeLookup, RegistrationStore } from "./store";
