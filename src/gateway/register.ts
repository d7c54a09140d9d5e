import type {
  ApnsEnvironment,
  RegisterRequest,
  Registration,
  RegistrationIdentity,
  RegistrationOrigin,
} from "../domain/registration";
import { failure, type Result, success } from "../domain/result";
import { redact } from "../log";
import type { GatewayDeps } from "./deps";
import { constantTimeEqual, mintNode } from "./tokens";

/** A request to register a device, from an ad-hoc command or REST. */
export interface RegisterInput extends RegistrationIdentity {
  /** `xmpp`: the account was authenticated by its server; `rest`: the account is a claim (docs/protocol.md 2). */
  readonly origin: RegistrationOrigin;
  readonly token: string;
  readonly voipToken?: string;
  /** An app id from `APPS`; the default app when absent. For REST, the app of the API credential. */
  readonly app?: string;
  readonly environment?: ApnsEnvironment;
  /** Whether the registration carries a secret that publishes must present (p2 and REST). */
  readonly withSecret: boolean;
  /** A pseudonymous registration's domain: `account`, `device` and `muc` are then hashes. */
  readonly domain?: string;
  /** REST only: the registration to refresh and the secret that proves the caller made it. */
  readonly refresh?: { readonly node: string; readonly secret: string };
}

/** Why a registration was refused; `field` names the input at fault. */
export interface RegisterRefusal {
  /** `invalid`: bad input; `over-cap`: the owner has too many; `unknown-node`: a REST refresh without a live node or the right secret. */
  readonly kind: "invalid" | "over-cap" | "unknown-node";
  readonly field: string;
  readonly reason: string;
}

/** A registration made or refreshed, with what the client is told. */
export interface Registered {
  readonly registration: Registration;
  /** The publish secret, when the registration is secured. */
  readonly secret?: string;
  readonly maxPayloadSize: number;
  readonly created: boolean;
}

export type RegisterResult = Result<Registered, RegisterRefusal>;

const MAX_TOKEN_LENGTH = 4096;

function invalid(field: string, reason: string): RegisterResult {
  return failure({ kind: "invalid", field, reason });
}

const UNKNOWN_NODE: RegisterRefusal = { kind: "unknown-node", field: "node", reason: "unknown node" };

/** Whether a REST caller proved it made `node`: live, REST, of this app, and the secret matches. */
async function provesRestOwnership(
  deps: GatewayDeps,
  app: string,
  refresh: { node: string; secret: string },
): Promise<Registration | undefined> {
  const lookup = await deps.store.get(refresh.node);
  if (lookup.kind !== "found") return undefined;
  const { registration } = lookup;
  if (registration.origin !== "rest" || registration.app !== app || !registration.secured) return undefined;
  return constantTimeEqual(refresh.secret, await deps.keys.publishSecret(registration.node)) ? registration : undefined;
}

/**
 * Registers a device for an account, or refreshes the registration of the same identity: the same
 * node and secret come back with the new token; a deleted identity gets a new node (docs/protocol.md 3.2).
 * The store decides atomically, so simultaneous registrations of one identity yield one node, and an
 * owner past its cap (docs/security.md) is refused. A REST registration is refreshed only with its
 * secret; without it, it is a new registration of its own (docs/protocol.md section 2, "Ownership").
 */
export async function registerDevice(deps: GatewayDeps, input: RegisterInput): Promise<RegisterResult> {
  const app = input.app ?? deps.config.defaultApp;
  if (!deps.providers.hasApp(app)) return invalid("app", `unknown app ${app.slice(0, 64)}`);
  const provider = deps.providers.get(app, input.provider);
  if (!provider) return invalid("provider", `provider ${input.provider} is not configured on this gateway`);
  if (input.token.length > MAX_TOKEN_LENGTH || /\s/.test(input.token))
    return invalid("token", "device token is malformed");
  if (input.voipToken !== undefined && (input.voipToken.length > MAX_TOKEN_LENGTH || /\s/.test(input.voipToken)))
    return invalid("voipToken", "VoIP token is malformed");
  if (input.refresh !== undefined) {
    const owned = await provesRestOwnership(deps, app, input.refresh);
    if (owned === undefined || owned.provider !== input.provider) return failure(UNKNOWN_NODE);
  }
  const now = deps.now();
  const { style, provider: providerId, account, device, muc } = input;
  const request: RegisterRequest = {
    origin: input.origin,
    identity: { style, provider: providerId, account, device, ...(muc !== undefined ? { muc } : {}) },
    ...(input.refresh !== undefined ? { refreshNode: input.refresh.node } : {}),
    ...(input.domain !== undefined ? { domain: input.domain } : {}),
    candidateNode: await mintNode(deps.randomBytes, now, deps.config.nodeMacKey),
    secured: input.withSecret,
    token: input.token,
    ...(input.voipToken !== undefined ? { voipToken: input.voipToken } : {}),
    app,
    ...(input.environment !== undefined ? { environment: input.environment } : {}),
    now,
    cap:
      input.origin === "rest" ? deps.config.limits.restRegistrationsPerApp : deps.config.limits.registrationsPerAccount,
  };
  const outcome = await deps.store.register(request);
  if (outcome.kind === "over-cap") {
    deps.log.log("warn", "registration-refused", { reason: "over-cap", origin: input.origin, app });
    return failure({
      kind: "over-cap",
      field: input.origin === "rest" ? "app" : "account",
      reason:
        input.origin === "rest"
          ? "this app has reached its limit of REST registrations"
          : `this account has reached its limit of ${request.cap} push registrations: unregister one first`,
    });
  }
  if (outcome.kind === "gone") return failure(UNKNOWN_NODE);
  // A delivery route may attach what it needs (SNS: the platform endpoint) before the client is answered.
  let { registration } = outcome;
  if (provider.registered !== undefined) {
    const routed = await provider.registered(registration);
    if (!routed.ok) {
      // The platform refused the token: a registration that cannot be delivered to is undone.
      await deps.store.delete(registration, "unregistered");
      await provider.unregistered?.(registration);
      deps.metrics.count("registrationRemovals", { style: registration.style, reason: "route-refused" });
      deps.log.log("warn", "registration-refused", {
        reason: "route",
        field: routed.error.field,
        origin: input.origin,
        app,
      });
      return invalid(routed.error.field, routed.error.reason);
    }
    if (routed.value !== registration) await deps.store.update(routed.value);
    registration = routed.value;
  }
  deps.metrics.count("registrations", {
    style: registration.style,
    origin: input.origin,
    event: outcome.kind === "refreshed" ? "refreshed" : "created",
  });
  deps.log.log("info", outcome.kind === "refreshed" ? "registration-refreshed" : "registration-created", {
    node: redact(registration.node),
    provider: registration.provider,
    app,
    style: registration.style,
    origin: input.origin,
    token: redact(registration.token),
  });
  return success({
    registration,
    ...(registration.secured ? { secret: await deps.keys.publishSecret(registration.node) } : {}),
    maxPayloadSize: provider.maxPayloadSize(registration),
    created: outcome.kind === "created",
  });
}

/**
 * Deletes the XMPP registration of an identity, leaving a tombstone; false when there was none. One
 * identity has one node in every store, so this removes all of them. The node stays dead: registering
 * the identity again mints a new one.
 */
export async function unregisterDevice(deps: GatewayDeps, identity: RegistrationIdentity): Promise<boolean> {
  const existing = await deps.store.findByIdentity(identity);
  if (!existing) return false;
  await deps.store.delete(existing, "unregistered");
  await deps.providers.get(existing.app, existing.provider)?.unregistered?.(existing);
  deps.metrics.count("registrationRemovals", { style: existing.style, reason: "unregistered" });
  deps.log.log("info", "registration-deleted", {
    node: redact(existing.node),
    provider: existing.provider,
    reason: "unregistered",
  });
  return true;
}

/**
 * Deletes a REST registration whose secret the caller presents (`DELETE /v1/registrations/{node}`).
 * False, the same way, for an unknown node, a wrong secret and an XMPP registration (no existence oracle).
 */
export async function unregisterRestRegistration(
  deps: GatewayDeps,
  node: string,
  secret: string | undefined,
): Promise<boolean> {
  if (secret === undefined) return false;
  const lookup = await deps.store.get(node);
  if (lookup.kind !== "found") return false;
  const { registration } = lookup;
  if (registration.origin !== "rest" || !registration.secured) return false;
  if (!constantTimeEqual(secret, await deps.keys.publishSecret(node))) return false;
  await deps.store.delete(registration, "unregistered");
  await deps.providers.get(registration.app, registration.provider)?.unregistered?.(registration);
  deps.metrics.count("registrationRemovals", { style: registration.style, reason: "unregistered" });
  deps.log.log("info", "registration-deleted", { node: redact(node), reason: "unregistered", via: "rest" });
  return true;
}
