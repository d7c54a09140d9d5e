import type { PushOutcome } from "../../domain/outcome";
import type { ProviderId, Registration } from "../../domain/registration";
import { failure, type Result, success } from "../../domain/result";
import { type Logger, redact } from "../../log";
import type { PushProvider, PushRequest, RouteRefusal, TokenDeadOutcome } from "../../ports/provider";
import type { SnsClient, SnsFailure } from "../../ports/sns";
import type { EndpointLedger } from "../../ports/store";
import { apnsBodyLimit, apnsMaxPayloadSize, apnsPayloadCapacity, buildApnsPush } from "../apns/payload";
import { BUDGET_SPENT } from "../budget-spent";
import type { SnsRouteFactory } from "../descriptor";
import { fcmAddressing } from "../fcm/device-hash";
import {
  carriesAddressOnly,
  FCM_DATA_LIMIT,
  fcmDataSize,
  fcmMaxPayloadSize,
  fcmMessageParts,
  fcmPayloadCapacity,
} from "../fcm/message";
import { utf8Length } from "../payload-measure";
import { PROVIDER_REQUEST_TIMEOUT_MS } from "../provider-request";
import { snsOutcome } from "./outcome";
import type { ApnsSnsConfig, FcmSnsConfig, SnsApplication } from "./settings";

/** How many registrations may share one platform endpoint (one phone's token, several accounts). */
export const DEFAULT_ENDPOINT_USERS = 1000;

/** What the SNS route is built from: the runtime's SNS client per region, the store's ledger, a log. */
export interface SnsRouteOptions {
  /** Makes the SNS client of a region; called once per region (the route keeps what it makes). */
  readonly client: (region: string) => SnsClient;
  readonly ledger: EndpointLedger;
  readonly log: Logger;
  /** At most this many registrations share one endpoint; default {@link DEFAULT_ENDPOINT_USERS}. */
  readonly endpointUsers?: number;
}

/**
 * The SNS delivery route of the APNs and FCM providers (docs/protocol.md 6.3), for the entries that
 * offer it (Node, Lambda, the `sns` Worker).
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-mobile-application-as-subscriber.html
 */
export function createSnsRoute(options: SnsRouteOptions): SnsRouteFactory {
  // One client per region for every provider and app of the gateway, whichever runtime made them.
  const clients = new Map<string, SnsClient>();
  const client = (region: string): SnsClient => {
    let made = clients.get(region);
    if (made === undefined) {
      made = options.client(region);
      clients.set(region, made);
    }
    return made;
  };
  const shared: SnsRouteOptions = { ...options, client };
  return {
    apns: (settings) => new SnsApnsProvider(settings, shared),
    fcm: (settings) => new SnsFcmProvider(settings, shared),
  };
}

/** The two endpoints a registration may have: its token's, and its PushKit token's. */
type SlotName = "endpoint" | "voip";

/** One endpoint a registration should have. */
interface Slot {
  readonly name: SlotName;
  readonly application: SnsApplication;
  readonly token: string;
  /** The registration's field the token came from, for a refusal. */
  readonly field: "token" | "voipToken";
}

/** One push, ready for `Publish`. */
interface SnsPush {
  readonly slot: Slot;
  /** The platform's own JSON (the APNs body, the FCM v1 message). */
  readonly body: string;
  /** The bytes the platform counts, and its limit. */
  readonly bytes: number;
  readonly limit: number;
  readonly attributes: Readonly<Record<string, string>>;
}

type Made =
  | { readonly kind: "made"; readonly arn: string }
  /** SNS refused the token itself. */
  | { readonly kind: "refused"; readonly reason: string }
  | { readonly kind: "full" }
  | { readonly kind: "failed"; readonly failure: SnsFailure };

const keyField = (slot: SlotName) => `${slot}Key`;

/** The ledger key of an endpoint: a SHA-256 of application and token, so the ledger names no token. */
async function endpointKey(slot: Slot): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`${slot.application.arn}\n${slot.token}`),
  );
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** What a `default` entry says: SNS wants one in a `MessageStructure=json` message; it is never shown here. */
const DEFAULT_TEXT = "New message";

/**
 * The shared half of both SNS providers: endpoints made at registration (or, if SNS was away then, at
 * the first publish), shared through the store's ledger and deleted with their last user; one `Publish`
 * per push, taken from the publish's budget.
 */
abstract class SnsRouteProvider implements PushProvider {
  abstract readonly id: ProviderId;
  readonly route = "sns";

  constructor(protected readonly options: SnsRouteOptions) {}

  /** The endpoints this registration should have, or why it cannot be delivered to at all. */
  protected abstract slots(registration: Registration): Result<readonly Slot[], RouteRefusal>;
  protected abstract push(request: PushRequest): Promise<SnsPush | undefined>;
  abstract maxPayloadSize(registration: Registration): number;
  abstract payloadCapacity(registration: Registration): number;

  async send(request: PushRequest): Promise<PushOutcome> {
    const { registration, budget } = request;
    const push = await this.push(request);
    if (push === undefined)
      return { kind: "misconfigured", reason: "no SNS platform application for this registration" };
    if (push.bytes > push.limit)
      return {
        kind: "payload-rejected",
        reason: `${push.slot.application.platform} payload of ${push.bytes} bytes is over ${push.limit}`,
      };
    const key = await endpointKey(push.slot);
    const route: Record<string, string> = { ...registration.route };
    let changed = false;
    let arn = route[keyField(push.slot.name)] === key ? route[push.slot.name] : undefined;
    const withRoute = (outcome: PushOutcome): PushOutcome => (changed ? { ...outcome, route } : outcome);
    const make = async (): Promise<PushOutcome | undefined> => {
      const made = await this.make(
        push.slot,
        key,
        registration.node,
        Math.min(budget.remainingMs(), PROVIDER_REQUEST_TIMEOUT_MS),
      );
      if (made.kind !== "made") return withRoute(this.unmade(made, key));
      await this.replace(route, push.slot.name, key, made.arn, registration.node);
      changed = true;
      arn = made.arn;
      return undefined;
    };
    if (arn === undefined) {
      const failed = await make();
      if (failed !== undefined) return failed;
    }
    const message = JSON.stringify({ default: DEFAULT_TEXT, [push.slot.application.platform]: push.body });
    const client = this.options.client(push.slot.application.region);
    for (let remade = false; ; remade = true) {
      if (!budget.take() || arn === undefined) return withRoute(BUDGET_SPENT);
      const timeoutMs = Math.max(1, Math.min(budget.remainingMs(), PROVIDER_REQUEST_TIMEOUT_MS));
      const answer = await client.publish({ targetArn: arn, message, attributes: push.attributes, timeoutMs });
      if (answer.ok) return withRoute({ kind: "delivered" });
      // An endpoint deleted under us (its last other user left as this one came): make it again, once.
      if (endpointGone(answer.error) && !remade) {
        const failed = await make();
        if (failed !== undefined) return failed;
        continue;
      }
      return withRoute(snsOutcome(answer.error, key));
    }
  }

  /** Makes or refreshes the route's endpoints for a registration (docs/protocol.md 6.3). */
  async registered(registration: Registration): Promise<Result<Registration, RouteRefusal>> {
    const slots = this.slots(registration);
    if (!slots.ok) return failure(slots.error);
    const route: Record<string, string> = { ...registration.route };
    const attachedNow: string[] = [];
    for (const slot of slots.value) {
      const key = await endpointKey(slot);
      if (route[keyField(slot.name)] === key && route[slot.name] !== undefined) continue;
      const made = await this.make(slot, key, registration.node, PROVIDER_REQUEST_TIMEOUT_MS);
      if (made.kind === "refused" || made.kind === "full") {
        for (const attached of attachedNow) await this.release(attached, registration.node);
        const reason =
          made.kind === "full"
            ? "this device token is registered too many times: unregister some of its registrations first"
            : made.reason;
        return failure({ field: slot.field, reason });
      }
      if (made.kind === "failed") {
        // SNS is away: the registration stands, and its first publish makes the endpoint.
        this.options.log.log("warn", "sns-endpoint-deferred", {
          node: redact(registration.node),
          platform: slot.application.platform,
          error: describe(made.failure),
        });
        continue;
      }
      attachedNow.push(key);
      await this.replace(route, slot.name, key, made.arn, registration.node);
    }
    for (const name of ["endpoint", "voip"] as const)
      if (!slots.value.some((slot) => slot.name === name)) await this.drop(route, name, registration.node);
    // Unchanged state hands back the same registration, so the use case writes nothing.
    if (sameRoute(route, registration.route ?? {})) return success(registration);
    return success({ ...registration, route });
  }

  async unregistered(registration: Registration): Promise<void> {
    const route: Record<string, string> = { ...registration.route };
    for (const name of ["endpoint", "voip"] as const) await this.drop(route, name, registration.node);
  }

  async tokenDead(registration: Registration, outcome: TokenDeadOutcome): Promise<readonly string[]> {
    const siblings = outcome.resource === undefined ? [] : await this.options.ledger.users(outcome.resource);
    if (outcome.resource !== undefined) await this.release(outcome.resource, registration.node);
    await this.unregistered(registration);
    return siblings.filter((node) => node !== registration.node);
  }

  /** `CreatePlatformEndpoint` (idempotent per application and token), then the ledger's attach. */
  private async make(slot: Slot, key: string, node: string, timeoutMs: number): Promise<Made> {
    const client = this.options.client(slot.application.region);
    const created = await client.createPlatformEndpoint({
      platformApplicationArn: slot.application.arn,
      token: slot.token,
      timeoutMs: Math.max(1, timeoutMs),
    });
    if (!created.ok) {
      const error = created.error;
      if (error.kind === "service" && error.code === "InvalidParameter")
        return {
          kind: "refused",
          reason: `SNS refused the ${slot.field === "voipToken" ? "VoIP" : "device"} token: ${error.message.slice(0, 120)}`,
        };
      return { kind: "failed", failure: error };
    }
    const attached = await this.options.ledger.attach(
      key,
      created.value.endpointArn,
      node,
      this.options.endpointUsers ?? DEFAULT_ENDPOINT_USERS,
    );
    return attached.kind === "full" ? { kind: "full" } : { kind: "made", arn: created.value.endpointArn };
  }

  /** What a publish answers when its endpoint could not be made. */
  private unmade(made: Exclude<Made, { kind: "made" }>, key: string): PushOutcome {
    if (made.kind === "refused") return { kind: "rejected", reason: made.reason };
    if (made.kind === "full") return { kind: "rejected", reason: "the endpoint has too many registrations" };
    const { failure: error } = made;
    // Making an endpoint of an application that is not there is the operator's fault.
    if (error.kind === "service" && error.code === "NotFound")
      return { kind: "misconfigured", reason: `SNS platform application not found: ${error.message.slice(0, 120)}` };
    const outcome = snsOutcome(error, key);
    return outcome.kind === "token-dead" ? { kind: "retry-later", reason: outcome.reason } : outcome;
  }

  /** Puts a made endpoint in its slot, releasing the one it replaces (the token changed). */
  private async replace(route: Record<string, string>, name: SlotName, key: string, arn: string, node: string) {
    const previous = route[keyField(name)];
    route[name] = arn;
    route[keyField(name)] = key;
    if (previous !== undefined && previous !== key) await this.release(previous, node);
  }

  /** Empties a slot, releasing its endpoint. */
  private async drop(route: Record<string, string>, name: SlotName, node: string) {
    const key = route[keyField(name)];
    delete route[name];
    delete route[keyField(name)];
    if (key !== undefined) await this.release(key, node);
  }

  /** Detaches a node from an endpoint; the last user out deletes it (`DeleteEndpoint`). */
  private async release(key: string, node: string): Promise<void> {
    const detached = await this.options.ledger.detach(key, node);
    if (detached === undefined || detached.remaining > 0) return;
    const region = /^arn:[^:]+:sns:([^:]+):/.exec(detached.arn)?.[1];
    if (region === undefined) return;
    const deleted = await this.options.client(region).deleteEndpoint({
      endpointArn: detached.arn,
      timeoutMs: PROVIDER_REQUEST_TIMEOUT_MS,
    });
    // A failed delete leaves an unused endpoint behind (SNS charges nothing for it); say so.
    if (!deleted.ok) this.options.log.log("warn", "sns-endpoint-not-deleted", { error: describe(deleted.error) });
  }
}

/**
 * Whether `Publish` said its target endpoint does not exist (deleted by its last other user just now):
 * `NotFound`, or `InvalidParameter` naming the target ARN.
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
 */
function endpointGone(error: SnsFailure): boolean {
  if (error.kind !== "service") return false;
  return (
    error.code === "NotFound" || (error.code === "InvalidParameter" && /TargetArn|no endpoint/i.test(error.message))
  );
}

function sameRoute(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function describe(error: SnsFailure): string {
  return error.kind === "service"
    ? `${error.status} ${error.code}`
    : error.kind === "network"
      ? error.reason.slice(0, 80)
      : "timeout";
}

/**
 * APNs over SNS: the body of docs/protocol.md 6.1 as the `APNS` / `APNS_SANDBOX` / `APNS_VOIP…` entry,
 * push type, priority, topic, TTL and collapse id as SNS message attributes. A ringing call goes to the
 * PushKit token's endpoint on the VoIP application when the app has one for the environment, else it is
 * an alert to the regular endpoint (as a registration without a PushKit token).
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-ttl.html
 */
export class SnsApnsProvider extends SnsRouteProvider {
  readonly id = "apns" as const;

  constructor(
    private readonly settings: ApnsSnsConfig,
    options: SnsRouteOptions,
  ) {
    super(options);
    // Built now, so that missing AWS credentials stop start-up with a ConfigError naming them.
    for (const application of Object.values(settings.applications)) options.client(application.region);
  }

  private applications(registration: Registration) {
    const environment = registration.environment ?? this.settings.environment;
    const { applications } = this.settings;
    return environment === "sandbox"
      ? { environment, regular: applications.sandbox, voip: applications.voipSandbox }
      : { environment, regular: applications.production, voip: applications.voip };
  }

  /** The registration as pushes see it: without a PushKit token when there is no VoIP application. */
  private deliverable(registration: Registration): Registration {
    if (registration.voipToken === undefined || this.applications(registration).voip !== undefined) return registration;
    const { voipToken: _, ...rest } = registration;
    return rest;
  }

  protected slots(registration: Registration): Result<readonly Slot[], RouteRefusal> {
    const { environment, regular, voip } = this.applications(registration);
    if (regular === undefined)
      return failure({ field: "environment", reason: `APNs ${environment} is not offered by this gateway` });
    const slots: Slot[] = [{ name: "endpoint", application: regular, token: registration.token, field: "token" }];
    if (voip !== undefined && registration.voipToken !== undefined)
      slots.push({ name: "voip", application: voip, token: registration.voipToken, field: "voipToken" });
    return success(slots);
  }

  protected async push(request: PushRequest): Promise<SnsPush | undefined> {
    const registration = this.deliverable(request.registration);
    const push = buildApnsPush(registration, request.notification, { withoutEncrypted: request.withoutEncrypted });
    const { regular, voip } = this.applications(registration);
    const application = push.toVoipToken ? voip : regular;
    if (application === undefined) return undefined;
    const slot: Slot = push.toVoipToken
      ? { name: "voip", application, token: push.deviceToken, field: "voipToken" }
      : { name: "endpoint", application, token: push.deviceToken, field: "token" };
    const attributes: Record<string, string> = {
      "AWS.SNS.MOBILE.APNS.PUSH_TYPE": push.pushType,
      "AWS.SNS.MOBILE.APNS.PRIORITY": String(push.priority),
      [`AWS.SNS.MOBILE.${application.platform}.TTL`]: String(push.lifetimeSeconds),
    };
    if (this.settings.topic !== undefined)
      attributes["AWS.SNS.MOBILE.APNS.TOPIC"] = push.toVoipToken ? `${this.settings.topic}.voip` : this.settings.topic;
    if (push.collapseId !== undefined) attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] = push.collapseId;
    return { slot, body: push.body, bytes: utf8Length(push.body), limit: apnsBodyLimit(push), attributes };
  }

  maxPayloadSize(registration: Registration): number {
    return apnsMaxPayloadSize(this.deliverable(registration));
  }

  payloadCapacity(registration: Registration): number {
    return apnsPayloadCapacity(this.deliverable(registration));
  }
}

/**
 * FCM over SNS: the FCM v1 message of docs/protocol.md 6.2 without its token, as the `GCM` entry
 * `{"fcmV1Message":{"message":{…}}}`; the TTL also as `AWS.SNS.MOBILE.FCM.TTL`.
 * @see https://docs.aws.amazon.com/sns/latest/dg/sns-fcm-v1-payloads.html
 */
export class SnsFcmProvider extends SnsRouteProvider {
  readonly id = "fcm" as const;

  constructor(
    private readonly settings: FcmSnsConfig,
    options: SnsRouteOptions,
  ) {
    super(options);
    options.client(settings.application.region);
  }

  protected slots(registration: Registration): Result<readonly Slot[], RouteRefusal> {
    return success([
      { name: "endpoint", application: this.settings.application, token: registration.token, field: "token" },
    ]);
  }

  protected async push(request: PushRequest): Promise<SnsPush> {
    const { registration, notification } = request;
    const parts = fcmMessageParts(await fcmAddressing(registration), notification, {
      withoutEncrypted: request.withoutEncrypted,
      addressOnly: carriesAddressOnly(registration),
    });
    const slot: Slot = {
      name: "endpoint",
      application: this.settings.application,
      token: registration.token,
      field: "token",
    };
    return {
      slot,
      body: JSON.stringify({ fcmV1Message: { message: { android: parts.android, data: parts.data } } }),
      bytes: fcmDataSize(parts.data),
      limit: FCM_DATA_LIMIT,
      attributes: { "AWS.SNS.MOBILE.FCM.TTL": String(parts.lifetimeSeconds) },
    };
  }

  maxPayloadSize(registration: Registration): number {
    return fcmMaxPayloadSize(registration);
  }

  payloadCapacity(registration: Registration): number {
    return fcmPayloadCapacity(registration);
  }
}
