export * from "./budget";
export * from "./notification";
export type { PushOutcome, PushOutcomeKind } from "./outcome";
export type { ProviderDirectory, PushProvider, PushRequest } from "./provider";
