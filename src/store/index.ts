export { KvRegistrationStore, type KvRegistrationStoreOptions } from "./kv";
export { MemoryRegistrationStore } from "./memory";
