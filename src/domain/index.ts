export * from "./budget";
export * from "./notification";
export type { PushOutcome, PushOutcomeKind } from "./outcome";
export * from "./registration";
export * from "./result";
