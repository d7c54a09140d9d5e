export type { CredentialCache, MintCredential, MintedCredential } from "./credentials";
export { CredentialUnavailable } from "./credentials";
export type {
  CounterName,
  GaugeName,
  HistogramName,
  MetricLabels,
  MetricName,
  Metrics,
  OutcomeReason,
} from "./metrics";
export { closedLabels, labelValues, METRICS, NO_METRICS, OTHER_LABEL, OUTCOME_REASONS } from "./metrics";
export type { ProviderDirectory, PushProvider, PushRequest } from "./provider";
export type { DeletionReason, NodeLookup, RegistrationStore } from "./store";
export type { HttpTransport } from "./transport";
