import type { ApnsEnvironment, ProviderId, Registration, RegistrationIdentity } from "../store/registration";
import type { GatewayDeps } from "./deps";
import { redact } from "./log";
import { mintNode, mintSecret } from "./tokens";

/** A request to register a device, from an ad-hoc command or REST. */
export interface RegisterInput extends RegistrationIdentity {
  readonly token: string;
  readonly voipToken?: string;
  /** An app id from `APPS`; the default app when absent. */
  readonly app?: string;
  readonly environment?: ApnsEnvironment;
  /** Whether the registration carries a secret that publishes must present (p2 and REST). */
  readonly withSecret: boolean;
}

/** Why a registration was refused; `field` names the input at fault. */
export interface RegisterRefusal {
  readonly field: string;
  readonly reason: string;
}

export type RegisterResult =
  | { ok: true; registration: Registration; maxPayloadSize: number }
  | { ok: false; refusal: RegisterRefusal };

const MAX_TOKEN_LENGTH = 4096;

/**
 * Registers a device for an account, or refreshes the registration of the same identity: the same
 * node and secret come back with the new token; a deleted identity gets a new node (PROTOCOL.md 3.2).
 */
export async function registerDevice(deps: GatewayDeps, input: RegisterInput): Promise<RegisterResult> {
  const app = input.app ?? deps.config.defaultApp;
  if (!deps.providers.hasApp(app))
    return { ok: false, refusal: { field: "app", reason: `unknown app ${app.slice(0, 64)}` } };
  const provider = deps.providers.get(app, input.provider);
  if (!provider)
    return {
      ok: false,
      refusal: { field: "provider", reason: `provider ${input.provider} is not configured on this gateway` },
    };
  if (input.token.length > MAX_TOKEN_LENGTH || /\s/.test(input.token))
    return { ok: false, refusal: { field: "token", reason: "device token is malformed" } };
  if (input.voipToken !== undefined && (input.voipToken.length > MAX_TOKEN_LENGTH || /\s/.test(input.voipToken)))
    return { ok: false, refusal: { field: "voipToken", reason: "VoIP token is malformed" } };
  const now = deps.now();
  const existing = await deps.store.findByIdentity(input);
  const sameToken = existing?.token === input.token;
  // The environment that accepted this very token is remembered unless the client names one.
  const environment = input.environment ?? (sameToken ? existing?.environment : undefined);
  const registration: Registration = {
    style: input.style,
    provider: input.provider,
    account: input.account,
    device: input.device,
    ...(input.muc !== undefined ? { muc: input.muc } : {}),
    node: existing?.node ?? (await mintNode(deps.randomBytes, now, deps.config.nodeMacKey)),
    ...(existing?.secret !== undefined
      ? { secret: existing.secret }
      : input.withSecret
        ? { secret: mintSecret(deps.randomBytes) }
        : {}),
    token: input.token,
    ...(input.voipToken !== undefined ? { voipToken: input.voipToken } : {}),
    app,
    ...(environment !== undefined ? { environment } : {}),
    ...(existing?.endpointArn !== undefined && sameToken ? { endpointArn: existing.endpointArn } : {}),
    createdAt: existing?.createdAt ?? now,
    tokenUpdatedAt: now,
  };
  await deps.store.put(registration);
  deps.log.log("info", existing ? "registration-refreshed" : "registration-created", {
    node: redact(registration.node),
    provider: registration.provider,
    app,
    style: registration.style,
    token: redact(registration.token),
  });
  return { ok: true, registration, maxPayloadSize: provider.maxPayloadSize(registration) };
}

/**
 * Deletes the registration of an identity, leaving a tombstone; false when there was none.
 * The node stays dead: registering the identity again mints a new one.
 */
export async function unregisterDevice(deps: GatewayDeps, identity: RegistrationIdentity): Promise<boolean> {
  const existing = await deps.store.findByIdentity(identity);
  if (!existing) return false;
  await deps.store.delete(existing, "unregistered");
  deps.log.log("info", "registration-deleted", {
    node: redact(existing.node),
    provider: existing.provider,
    reason: "unregistered",
  });
  return true;
}

/** The provider feature ids clients look for (Siskin requires the APNs one; FCM's is this project's own). */
export const PROVIDER_FEATURES: Readonly<Record<ProviderId, string>> = {
  apns: "tigase:messenger:apns:1",
  fcm: "tigase:messenger:fcm:1",
};

/** Maps the provider names clients send to a provider id (PROTOCOL.md 3.1 and 3.2). */
export function providerFromName(name: string): ProviderId | undefined {
  switch (name) {
    case "apns":
    case "tigase:messenger:apns:1":
      return "apns";
    case "fcm":
    case "fcm-xmpp-api":
    case "fcm-http-v1":
    case "tigase:messenger:fcm:1":
      return "fcm";
    default:
      return undefined;
  }
}
