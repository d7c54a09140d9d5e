/**
 * The push providers a registration can name: the one list of provider ids in the domain, so that a
 * stored record naming anything else reads as corrupt. Everything else about a provider lives in its
 * folder and the registry (src/providers/registry.ts; docs/architecture.md section 4.1).
 */
export const PROVIDER_IDS = ["apns", "fcm"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** Whether `value` is one of {@link PROVIDER_IDS}. */
export function isProviderId(value: unknown): value is ProviderId {
  return PROVIDER_IDS.some((id) => id === value);
}

/** APNs environments; FCM has only one. */
export type ApnsEnvironment = "production" | "sandbox";

/**
 * How a registration is identified (docs/protocol.md 3.2): `token` style (Tigase `register-device`, REST
 * without `deviceId`) is keyed by the device token; `device` style (p2 commands, REST with `deviceId`)
 * by the client's device id and optional MUC.
 */
export type IdentityStyle = "token" | "device";

/**
 * Who made a registration (docs/protocol.md section 2, "Ownership"): `xmpp` registrations belong to the
 * account whose server authenticated the command; `rest` ones to the app whose API credential made
 * them, and their account is only a claim. The two never match, read, change or count against each other.
 */
export type RegistrationOrigin = "xmpp" | "rest";

/** The identity of an XMPP registration: registering it again refreshes the same node. */
export interface RegistrationIdentity {
  readonly style: IdentityStyle;
  readonly provider: ProviderId;
  readonly account: string;
  /** The device token (token style) or the device id (device style). */
  readonly device: string;
  /** Device style only: the MUC bare JID the registration is for. */
  readonly muc?: string;
}

/** One device registered for one account: what a publish to `node` pushes to. */
export interface Registration extends RegistrationIdentity {
  /** Absent for `xmpp`, the origin of every registration made before REST registrations had their own space. */
  readonly origin?: "rest";
  /**
   * Present on a pseudonymous registration (`register-push-fcm`, as p2 keeps it): the account's domain,
   * the only clear part of the account; `account` then holds a keyed hash of the bare JID, `device` the
   * Conversations account hash and `muc` the channel hash (docs/storage.md, "What each backend keeps").
   */
  readonly domain?: string;
  readonly node: string;
  /**
   * Whether publishes must present the registration's secret (p2 and REST registrations; Tigase style
   * has none). The secret itself is never stored: it is derived from the server key and the node.
   */
  readonly secured: boolean;
  readonly token: string;
  /** APNs PushKit token (`device-second-token`), for `type='voip'` pushes. */
  readonly voipToken?: string;
  /** Id of the app in `APPS` (`default` for the single-app variables); for REST, the credential's app. */
  readonly app: string;
  /** APNs only: the environment that last accepted this token, when it differs from the app's default. */
  readonly environment?: ApnsEnvironment;
  /**
   * What the provider's delivery route keeps for this registration (the SNS route: its platform
   * endpoints), opaque to everything else; kept across a refresh so the route can tell what changed.
   */
  readonly route?: RouteState;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** When the token was last set or refreshed (ms); a provider's "dead since" older than this is stale. */
  readonly tokenUpdatedAt: number;
}

/** A delivery route's own data about a registration: a few short strings (see {@link Registration.route}). */
export type RouteState = Readonly<Record<string, string>>;

/** Bounds on {@link RouteState}, so a stored record stays small: entries, and characters per key and value. */
export const ROUTE_STATE_LIMITS = { entries: 8, keyLength: 32, valueLength: 512 } as const;

/** The origin of a registration, `xmpp` when the record does not say. */
export function originOf(registration: Pick<Registration, "origin">): RegistrationOrigin {
  return registration.origin ?? "xmpp";
}

/** The key that stands for an identity in stores. Never the token alone: one token serves several accounts. */
export function identityKey(identity: RegistrationIdentity): string {
  const device = identity.style === "device" ? `${identity.device}\u0000${identity.muc ?? ""}` : identity.device;
  return [identity.style, identity.provider, identity.account, device].join("\u0001");
}

/**
 * The owner a registration counts against for the caps of docs/security.md: its account for XMPP
 * registrations, its app's API credential for REST ones.
 */
export function ownerKey(registration: Pick<Registration, "origin" | "account" | "app">): string {
  return originOf(registration) === "rest" ? `rest\u0001${registration.app}` : `xmpp\u0001${registration.account}`;
}

/** The owner a {@link RegisterRequest} counts against (see {@link ownerKey}). */
export function requestOwnerKey(request: RegisterRequest): string {
  return request.origin === "rest" ? `rest\u0001${request.app}` : `xmpp\u0001${request.identity.account}`;
}

/** The domain part of the registration's account, which alone may publish to it (docs/protocol.md 3.3). */
export function registrationDomain(registration: Pick<Registration, "account" | "domain">): string {
  if (registration.domain !== undefined) return registration.domain;
  const at = registration.account.indexOf("@");
  return at === -1 ? registration.account : registration.account.slice(at + 1);
}

/**
 * A registration or refresh as a store carries it out atomically: find the identity's live
 * registration (or, for a REST refresh, the node the caller proved it owns), refresh it, or create
 * `candidateNode` if the owner is under its cap.
 */
export interface RegisterRequest {
  readonly origin: RegistrationOrigin;
  readonly identity: RegistrationIdentity;
  /** REST refresh only: the node whose secret the caller presented. */
  readonly refreshNode?: string;
  /** A pseudonymous registration's domain (see {@link Registration.domain}). */
  readonly domain?: string;
  /** The node a new registration gets (minted by the caller, unused until now). */
  readonly candidateNode: string;
  readonly secured: boolean;
  readonly token: string;
  readonly voipToken?: string;
  readonly app: string;
  /** The environment the client named; absent keeps the one that accepted the same token before. */
  readonly environment?: ApnsEnvironment;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** How many live registrations the owner may have; a new one past it is refused. */
  readonly cap: number;
}

/** What a store did with a {@link RegisterRequest}. */
export type RegisterOutcome =
  | { readonly kind: "created"; readonly registration: Registration }
  | { readonly kind: "refreshed"; readonly registration: Registration }
  /** The owner already has `cap` live registrations. */
  | { readonly kind: "over-cap" }
  /** A REST refresh of a node that is no longer live. */
  | { readonly kind: "gone" };

/**
 * The one decision every store makes inside its atomic step (docs/protocol.md 3.2): refresh the live
 * registration of the identity (same node, same `secured`, new token), or create the candidate when the
 * owner is under its cap. Nothing ever adds a secret to a registration that had none.
 * @param existing the identity's live registration (for a REST refresh: the live registration of `refreshNode`)
 * @param liveCount the owner's live registrations now
 */
export function decideRegistration(
  existing: Registration | undefined,
  liveCount: number,
  request: RegisterRequest,
): RegisterOutcome {
  if (request.refreshNode !== undefined && existing?.node !== request.refreshNode) return { kind: "gone" };
  if (existing !== undefined) return { kind: "refreshed", registration: refreshRegistration(existing, request) };
  if (liveCount >= request.cap) return { kind: "over-cap" };
  return { kind: "created", registration: newRegistration(request) };
}

function identityFields(identity: RegistrationIdentity): RegistrationIdentity {
  const { style, provider, account, device, muc } = identity;
  return { style, provider, account, device, ...(muc !== undefined ? { muc } : {}) };
}

function newRegistration(request: RegisterRequest): Registration {
  return {
    ...identityFields(request.identity),
    ...(request.origin === "rest" ? { origin: "rest" as const } : {}),
    ...(request.domain !== undefined ? { domain: request.domain } : {}),
    node: request.candidateNode,
    secured: request.secured,
    token: request.token,
    ...(request.voipToken !== undefined ? { voipToken: request.voipToken } : {}),
    app: request.app,
    ...(request.environment !== undefined ? { environment: request.environment } : {}),
    createdAt: request.now,
    tokenUpdatedAt: request.now,
  };
}

function refreshRegistration(existing: Registration, request: RegisterRequest): Registration {
  const sameToken = existing.token === request.token;
  // The environment that accepted this very token is remembered unless the client names one.
  const environment = request.environment ?? (sameToken ? existing.environment : undefined);
  return {
    ...identityFields(existing),
    ...(existing.origin !== undefined ? { origin: existing.origin } : {}),
    ...(existing.domain !== undefined ? { domain: existing.domain } : {}),
    node: existing.node,
    secured: existing.secured,
    token: request.token,
    ...(request.voipToken !== undefined ? { voipToken: request.voipToken } : {}),
    app: request.app,
    ...(environment !== undefined ? { environment } : {}),
    // The route's state stays as it was: its `registered` hook compares it with the new token.
    ...(existing.route !== undefined ? { route: existing.route } : {}),
    createdAt: existing.createdAt,
    tokenUpdatedAt: request.now,
  };
}
