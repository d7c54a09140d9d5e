import type { ApnsEnvironment, ProviderId } from "../domain/registration";
import { failure, type Result, success } from "../domain/result";
import type { GatewayDeps } from "../gateway/deps";
import { registerDevice, unregisterDevice } from "../gateway/register";
import { constantTimeEqual } from "../gateway/tokens";
import { bareJid, parseJid } from "../xmpp/jid";

/** A REST registration after its JSON was checked. */
export interface RestRegistration {
  readonly provider: ProviderId;
  readonly token: string;
  readonly account: string;
  readonly voipToken?: string;
  readonly environment?: ApnsEnvironment;
  readonly app?: string;
  readonly deviceId?: string;
  /** A refresh: the registration's node and secret, both or neither. */
  readonly refresh?: { readonly node: string; readonly secret: string };
}

/** A field of a REST body that is missing or wrong. */
export interface FieldError {
  readonly error: string;
  readonly field: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string field that may be absent; present, it must be a non-empty string of at most 4096 characters. */
function optionalText(body: Record<string, unknown>, field: string): Result<string | undefined, FieldError> {
  const value = body[field];
  if (value === undefined || value === null) return success(undefined);
  if (typeof value !== "string" || value.trim() === "" || value.length > 4096)
    return failure({ error: `${field} must be a non-empty string`, field });
  return success(value.trim());
}

const OPTIONAL_FIELDS = ["voipToken", "environment", "app", "deviceId", "node", "secret"] as const;

/**
 * Checks the body of `POST /v1/registrations` (docs/protocol.md section 2), naming the first bad field.
 */
export function parseRestRegistration(
  body: unknown,
  providers: GatewayDeps["providers"],
): Result<RestRegistration, FieldError> {
  if (!isRecord(body)) return failure({ error: "body must be a JSON object", field: "body" });
  const provider = typeof body.provider === "string" ? providers.named(body.provider)?.id : undefined;
  if (provider === undefined) return failure({ error: "provider is not one this gateway knows", field: "provider" });
  const token = optionalText(body, "token");
  if (!token.ok) return token;
  if (token.value === undefined || /\s/.test(token.value))
    return failure({ error: "token is required", field: "token" });
  const accountText = optionalText(body, "account");
  if (!accountText.ok) return accountText;
  const account = parseJid(accountText.value);
  if (!account || account.local === undefined)
    return failure({ error: "account must be a user JID", field: "account" });
  const optional: Partial<Record<(typeof OPTIONAL_FIELDS)[number], string>> = {};
  for (const field of OPTIONAL_FIELDS) {
    const value = optionalText(body, field);
    if (!value.ok) return value;
    if (value.value !== undefined) optional[field] = value.value;
  }
  const { voipToken, environment, app, deviceId, node, secret } = optional;
  if (environment !== undefined && environment !== "production" && environment !== "sandbox")
    return failure({ error: "environment must be production or sandbox", field: "environment" });
  if ((node === undefined) !== (secret === undefined))
    return failure({ error: "a refresh needs both node and secret", field: node === undefined ? "node" : "secret" });
  return success({
    provider,
    token: token.value,
    account: bareJid(account),
    ...(voipToken !== undefined ? { voipToken } : {}),
    ...(environment !== undefined ? { environment } : {}),
    ...(app !== undefined ? { app } : {}),
    ...(deviceId !== undefined ? { deviceId } : {}),
    ...(node !== undefined && secret !== undefined ? { refresh: { node, secret } } : {}),
  });
}

/**
 * The app whose REST API credential (`REST_API_KEYS`) the request presents, compared in constant time
 * against every configured key; `undefined` for none (docs/protocol.md section 2, "Ownership").
 */
export function restCredentialApp(
  keys: ReadonlyMap<string, string>,
  presented: string | undefined,
): string | undefined {
  if (presented === undefined) return undefined;
  let found: string | undefined;
  for (const [app, key] of keys) if (constantTimeEqual(presented, key) && found === undefined) found = app;
  return found;
}

/** The answer of `POST /v1/registrations`. */
export type RestRegisterAnswer =
  | { readonly status: 201; readonly body: { jid: string; node: string; secret: string; maxPayloadSize: number } }
  | { readonly status: 400 | 403 | 404; readonly body: FieldError };

/**
 * Registers over HTTPS for the app of the caller's API credential. REST registrations live in their
 * own identity space and always carry a secret (docs/protocol.md section 2): without `node` and `secret`
 * every call makes a new registration of its own, counted against the app's cap; with them it
 * refreshes that registration's token. With `deviceId` they behave like p2 ones (the FCM account hash
 * uses it), otherwise like Tigase ones.
 */
export async function registerOverRest(
  deps: GatewayDeps,
  app: string,
  input: RestRegistration,
): Promise<RestRegisterAnswer> {
  if (input.app !== undefined && input.app !== app)
    return { status: 400, body: { error: "app must be the app of the API credential", field: "app" } };
  const result = await registerDevice(deps, {
    origin: "rest",
    style: input.deviceId !== undefined ? "device" : "token",
    provider: input.provider,
    account: input.account,
    device: input.deviceId ?? input.token,
    token: input.token,
    ...(input.voipToken !== undefined ? { voipToken: input.voipToken } : {}),
    ...(input.environment !== undefined ? { environment: input.environment } : {}),
    app,
    withSecret: true,
    ...(input.refresh !== undefined ? { refresh: input.refresh } : {}),
  });
  if (!result.ok) {
    const { kind, reason, field } = result.error;
    const status = kind === "over-cap" ? 403 : kind === "unknown-node" ? 404 : 400;
    return { status, body: { error: reason, field } };
  }
  return {
    status: 201,
    body: {
      jid: deps.config.pushJid,
      node: result.value.registration.node,
      secret: result.value.secret ?? "",
      maxPayloadSize: result.value.maxPayloadSize,
    },
  };
}

/**
 * Siskin's REST unregister (`{"account", "provider", "device-token"}`): deletes, never reads or
 * changes, the token-style XMPP registration whose account, provider and device token all match; the
 * device token is the credential (docs/security.md). Answers success whether or not one matched.
 */
export async function unregisterOverRest(deps: GatewayDeps, body: unknown): Promise<Result<undefined, FieldError>> {
  if (!isRecord(body)) return failure({ error: "body must be a JSON object", field: "body" });
  const account = typeof body.account === "string" ? parseJid(body.account) : undefined;
  if (!account || account.local === undefined)
    return failure({ error: "account must be a user JID", field: "account" });
  const provider = typeof body.provider === "string" ? deps.providers.named(body.provider)?.id : undefined;
  if (!provider) return failure({ error: "unknown provider", field: "provider" });
  const token = body["device-token"];
  if (typeof token !== "string" || token === "" || token.length > 4096)
    return failure({ error: "device-token is required", field: "device-token" });
  await unregisterDevice(deps, { style: "token", provider, account: bareJid(account), device: token });
  return success(undefined);
}
