/**
 * The three Amazon SNS actions the SNS delivery route uses (docs/protocol.md 6.3). The runtime supplies
 * it: on Node and Lambda through `@aws-sdk/client-sns`, on Workers (whose runtime has no `DOMParser` for
 * the SDK's XML) as signed awsQuery requests over `fetch`. Both answer the same way, so the route never
 * knows which it has. Only programming faults throw.
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Operations.html
 */
export interface SnsClient {
  /** `CreatePlatformEndpoint`: idempotent per (platform application, token) when no attributes differ. */
  createPlatformEndpoint(input: CreateEndpointInput): Promise<SnsAnswer<{ readonly endpointArn: string }>>;
  /** `DeleteEndpoint`: idempotent; deleting an endpoint that is gone succeeds. */
  deleteEndpoint(input: { readonly endpointArn: string; readonly timeoutMs: number }): Promise<SnsAnswer<void>>;
  /** `Publish` to one endpoint (`TargetArn`). */
  publish(input: PublishInput): Promise<SnsAnswer<{ readonly messageId: string }>>;
}

export interface CreateEndpointInput {
  readonly platformApplicationArn: string;
  readonly token: string;
  /** How long the call may take; it is abandoned (a `timeout`) after. */
  readonly timeoutMs: number;
}

export interface PublishInput {
  readonly targetArn: string;
  /** The `MessageStructure=json` message: an object whose values are each platform's JSON as a string. */
  readonly message: string;
  /** String message attributes (`AWS.SNS.MOBILE.APNS.PUSH_TYPE`, …). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** What SNS said, or why it said nothing. */
export type SnsAnswer<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: SnsFailure };

export type SnsFailure =
  /** SNS answered with an error: its `Code` (`EndpointDisabled`, `Throttling`, …), HTTP status and text. */
  | { readonly kind: "service"; readonly code: string; readonly status: number; readonly message: string }
  /** No answer in time. */
  | { readonly kind: "timeout" }
  /** The connection failed (refused, reset, DNS). */
  | { readonly kind: "network"; readonly reason: string };
