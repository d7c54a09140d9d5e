export type { CredentialCache, MintCredential, MintedCredential } from "./credentials";
export { CredentialUnavailable } from "./credentials";
export type { ProviderDirectory, PushProvider, PushRequest } from "./provider";
export type { DeletionReason, NodeLookup, RegistrationStore } from "./store";
export type { HttpTransport } from "./transport";
