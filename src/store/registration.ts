/** The push providers a registration can name. */
export const PROVIDER_IDS = ["apns", "fcm"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** APNs environments; FCM has only one. */
export type ApnsEnvironment = "production" | "sandbox";

/**
 * How a registration is identified (PROTOCOL.md 3.2): `token` style (Tigase `register-device`, REST
 * without `deviceId`) is keyed by the device token; `device` style (p2 commands, REST with `deviceId`)
 * by the client's device id and optional MUC.
 */
export type IdentityStyle = "token" | "device";

/** The identity of a registration: registering it again refreshes the same node. */
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
  readonly node: string;
  /** Required in publish-options when present (p2 and REST registrations); Tigase style has none. */
  readonly secret?: string;
  readonly token: string;
  /** APNs PushKit token (`device-second-token`), for `type='voip'` pushes. */
  readonly voipToken?: string;
  /** Id of the app in `APPS` (`default` for the single-app variables). */
  readonly app: string;
  /** APNs only: the environment that last accepted this token, when it differs from the app's default. */
  readonly environment?: ApnsEnvironment;
  /** AWS SNS route only: the platform endpoint of this token. */
  readonly endpointArn?: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** When the token was last set or refreshed (ms); a provider's "dead since" older than this is stale. */
  readonly tokenUpdatedAt: number;
}

/** The key that stands for an identity in stores. Never the token alone: one token serves several accounts. */
export function identityKey(identity: RegistrationIdentity): string {
  const device = identity.style === "device" ? `${identity.device}\u0000${identity.muc ?? ""}` : identity.device;
  return [identity.style, identity.provider, identity.account, device].join("\u0001");
}

/** The domain part of the registration's account, which alone may publish to it (PROTOCOL.md 3.3). */
export function accountDomain(account: string): string {
  const at = account.indexOf("@");
  return at === -1 ? account : account.slice(at + 1);
}
