import { PUBLISH_DEADLINE_MS, PushBudget } from "../domain/budget";
import type { PushOutcome } from "../domain/outcome";
import { type Registration, registrationDomain } from "../domain/registration";
import { failure, type Result, success } from "../domain/result";
import { type LogFields, redact } from "../log";
import type { PushProvider, PushRequest, TokenDeadOutcome } from "../ports/provider";
import { parseJid } from "../xmpp/jid";
import type { PublishRequest } from "../xmpp/publish";
import type { StanzaError } from "../xmpp/stanza";
import type { GatewayDeps } from "./deps";
import { outcomeReason, publishDialect, publishReplyLabel } from "./metric-labels";
import { constantTimeEqual, provesRecentMint } from "./tokens";

/** The answer to a publish: an empty result or a stanza error (docs/protocol.md section 5). */
export type PublishReply = { readonly kind: "result" } | { readonly kind: "error"; readonly error: StanzaError };

const RESULT: PublishReply = { kind: "result" };
const ITEM_NOT_FOUND: PublishReply = { kind: "error", error: { type: "cancel", condition: "item-not-found" } };
const FORBIDDEN: PublishReply = { kind: "error", error: { type: "auth", condition: "forbidden" } };
const WAIT: PublishReply = { kind: "error", error: { type: "wait", condition: "internal-server-error" } };
/** Time kept for the retried request itself when deciding whether a Retry-After still fits. */
const RETRY_MARGIN_MS = 2_000;
const DEFAULT_RETRY_DELAY_MS = 250;

/** What happened to one publish, for its log line. */
interface Trace {
  outcome: string;
  reason?: string;
  fallback?: boolean;
  retried?: boolean;
}

/** Why a publish found no registration to push to, and the reply that says so. */
interface NotFound {
  readonly outcome: "store-failure" | "not-yet-visible" | "unknown-node";
  readonly reply: PublishReply;
}

async function lookUp(deps: GatewayDeps, node: string): Promise<Result<Registration, NotFound>> {
  let lookup: Awaited<ReturnType<GatewayDeps["store"]["get"]>>;
  try {
    lookup = await deps.store.get(node);
  } catch (error) {
    deps.log.log("error", "store-failure", {
      operation: "get",
      node: redact(node),
      error: String(error).slice(0, 200),
    });
    return failure({ outcome: "store-failure", reply: WAIT });
  }
  if (lookup.kind === "found") return success(lookup.registration);
  if (lookup.kind === "absent" && deps.config.nodeMacKey !== undefined) {
    // A node this gateway minted moments ago may not have reached this KV location yet.
    if (await provesRecentMint(node, deps.config.nodeMacKey, deps.now()))
      return failure({ outcome: "not-yet-visible", reply: WAIT });
  }
  return failure({ outcome: "unknown-node", reply: ITEM_NOT_FOUND });
}

function publisherMayWake(publisher: string | undefined, registration: Registration): boolean {
  const jid = parseJid(publisher);
  // XEP-0357 business rules: the user's server publishes, never a full JID.
  if (!jid || jid.resource !== undefined) return false;
  return jid.domain === registrationDomain(registration);
}

async function secretMatches(
  deps: GatewayDeps,
  registration: Registration,
  offered: string | undefined,
): Promise<boolean> {
  if (!registration.secured) return true;
  return offered !== undefined && constantTimeEqual(offered, await deps.keys.publishSecret(registration.node));
}

/** One send to the provider, counted by outcome and timed (docs/operations.md). */
async function sendOnce(deps: GatewayDeps, provider: PushProvider, request: PushRequest): Promise<PushOutcome> {
  const started = deps.now();
  const outcome = await provider.send(request);
  const route = provider.route ?? "direct";
  // Written out, not `{ ...labels, reason }`: Node 20's V8 spends about a microsecond per key added after a spread.
  deps.metrics.count("providerOutcomes", {
    provider: provider.id,
    route,
    outcome: outcome.kind,
    reason: outcomeReason(outcome),
  });
  deps.metrics.observe(
    "providerSeconds",
    { provider: provider.id, route, outcome: outcome.kind },
    (deps.now() - started) / 1000,
  );
  return outcome;
}

async function sendWithRetry(
  deps: GatewayDeps,
  provider: PushProvider,
  request: PushRequest,
  trace: Trace,
): Promise<PushOutcome> {
  const outcome = await sendOnce(deps, provider, request);
  if (outcome.kind !== "retry-later" || !request.budget.canRetry) return outcome;
  const delay = outcome.retryAfterMs ?? DEFAULT_RETRY_DELAY_MS;
  if (delay + RETRY_MARGIN_MS > request.budget.remainingMs()) return outcome;
  await deps.sleep(delay);
  trace.retried = true;
  return carryRoute(outcome, await sendOnce(deps, provider, routedRequest(request, outcome)));
}

/** The request again, for the registration with what the route made during the last attempt. */
function routedRequest(request: PushRequest, previous: PushOutcome): PushRequest {
  if (previous.route === undefined) return request;
  return Object.assign({}, request, {
    registration: Object.assign({}, request.registration, { route: previous.route }),
  });
}

/** The later outcome, still carrying the route state an earlier attempt made if it made none. */
function carryRoute(previous: PushOutcome, next: PushOutcome): PushOutcome {
  return previous.route !== undefined && next.route === undefined
    ? Object.assign({}, next, { route: previous.route })
    : next;
}

/** How many other registrations one dead token may take with it in one publish; the rest go at their own. */
const MAX_SIBLINGS_PER_PUBLISH = 20;

async function forget(
  deps: GatewayDeps,
  provider: PushProvider,
  registration: Registration,
  outcome: TokenDeadOutcome,
): Promise<PublishReply> {
  let siblings: readonly string[] = [];
  try {
    await deps.store.delete(registration, "token-dead");
    deps.metrics.count("registrationRemovals", { style: registration.style, reason: "token-dead" });
    siblings = (await provider.tokenDead?.(registration, outcome)) ?? [];
  } catch (error) {
    deps.log.log("error", "store-failure", {
      operation: "delete",
      node: redact(registration.node),
      error: String(error).slice(0, 200),
    });
    return WAIT;
  }
  // The registrations that shared the dead token's route resource (one SNS endpoint serves every
  // account of a phone) are dead too; a failure here is theirs to meet at their own next publish.
  for (const node of siblings.filter((other) => other !== registration.node).slice(0, MAX_SIBLINGS_PER_PUBLISH)) {
    try {
      const lookup = await deps.store.get(node);
      if (lookup.kind !== "found") continue;
      await deps.store.delete(lookup.registration, "token-dead");
      deps.metrics.count("registrationRemovals", { style: lookup.registration.style, reason: "token-dead-shared" });
      await deps.providers
        .get(lookup.registration.app, lookup.registration.provider)
        ?.unregistered?.(lookup.registration);
      deps.log.log("info", "registration-deleted", {
        node: redact(node),
        reason: "token-dead",
        via: "shared-endpoint",
      });
    } catch (error) {
      deps.log.log("warn", "store-failure", {
        operation: "delete",
        node: redact(node),
        error: String(error).slice(0, 200),
      });
    }
  }
  return ITEM_NOT_FOUND;
}

async function remember(deps: GatewayDeps, registration: Registration): Promise<void> {
  try {
    await deps.store.update(registration);
  } catch (error) {
    deps.log.log("warn", "store-failure", {
      operation: "update",
      node: redact(registration.node),
      error: String(error).slice(0, 200),
    });
  }
}

async function deliver(
  deps: GatewayDeps,
  registration: Registration,
  publish: PublishRequest,
  trace: Trace,
): Promise<PublishReply> {
  const provider = deps.providers.get(registration.app, registration.provider);
  if (!provider) {
    trace.outcome = "misconfigured";
    trace.reason = `no ${registration.provider} provider for app ${registration.app}`;
    deps.metrics.count("providerOutcomes", {
      provider: registration.provider,
      route: "none",
      outcome: "misconfigured",
      reason: "no-provider",
    });
    return WAIT;
  }
  const budget = new PushBudget(deps.now, deps.now() + PUBLISH_DEADLINE_MS);
  const encrypted = publish.notification.encrypted;
  // A blob that cannot fit is not sent at all: the fallback push goes out at once (docs/protocol.md 6.4).
  const tooLarge = encrypted !== undefined && encrypted.data.length > provider.payloadCapacity(registration);
  let request: PushRequest = { registration, notification: publish.notification, budget, withoutEncrypted: tooLarge };
  trace.fallback = tooLarge || undefined;
  let outcome = await sendWithRetry(deps, provider, request, trace);
  if (outcome.kind === "payload-rejected" && encrypted !== undefined && !request.withoutEncrypted) {
    request = Object.assign({}, routedRequest(request, outcome), { withoutEncrypted: true });
    trace.fallback = true;
    outcome = carryRoute(outcome, await sendWithRetry(deps, provider, request, trace));
  }
  trace.outcome = outcome.kind;
  if (outcome.kind !== "delivered") trace.reason = outcome.reason;
  // What the route made for this registration is kept, delivered or not (a dead token forgets it below).
  const routed = outcome.route !== undefined && outcome.kind !== "token-dead";
  const current = routed ? Object.assign({}, registration, { route: outcome.route }) : registration;
  if (routed) await remember(deps, current);
  switch (outcome.kind) {
    case "delivered":
      if (outcome.environment !== undefined && outcome.environment !== current.environment)
        await remember(deps, Object.assign({}, current, { environment: outcome.environment }));
      return RESULT;
    case "token-dead":
      // A 410 that predates the last token update speaks of the old token: keep the registration.
      if (outcome.timestamp !== undefined && outcome.timestamp < registration.tokenUpdatedAt) {
        trace.outcome = "token-dead-stale";
        return WAIT;
      }
      return forget(deps, provider, registration, outcome);
    case "payload-rejected":
    case "retry-later":
    case "misconfigured":
    case "rejected":
      return WAIT;
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled push outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

const LOUD_OUTCOMES: ReadonlySet<string> = new Set(["misconfigured", "rejected", "payload-rejected", "store-failure"]);

/**
 * Handles a XEP-0357 publish: finds the registration, checks the publisher and secret, sends the push
 * and maps the provider's outcome to the reply every XMPP server handles as intended (docs/protocol.md 5).
 * @see https://xmpp.org/extensions/xep-0357.html#publishing
 */
export async function publishNotification(
  deps: GatewayDeps,
  publisher: string | undefined,
  publish: PublishRequest,
): Promise<PublishReply> {
  const started = deps.now();
  const trace: Trace = { outcome: "unknown" };
  const found = await lookUp(deps, publish.node);
  let reply: PublishReply;
  let fields: LogFields = {};
  if (!found.ok) {
    reply = found.error.reply;
    trace.outcome = found.error.outcome;
  } else {
    const registration = found.value;
    fields = { provider: registration.provider, app: registration.app };
    if (!publisherMayWake(publisher, registration) || !(await secretMatches(deps, registration, publish.secret))) {
      reply = FORBIDDEN;
      trace.outcome = "forbidden";
    } else {
      reply = await deliver(deps, registration, publish, trace);
    }
  }
  const replyLabel = publishReplyLabel(reply);
  deps.metrics.count("publishes", { dialect: publishDialect(publish.notification), reply: replyLabel });
  deps.metrics.observe("publishSeconds", { reply: replyLabel }, (deps.now() - started) / 1000);
  const level = LOUD_OUTCOMES.has(trace.outcome) ? "error" : "info";
  deps.log.log(level, "publish", {
    node: redact(publish.node),
    ...fields,
    outcome: trace.outcome,
    reason: trace.reason,
    fallback: trace.fallback,
    retried: trace.retried,
    reply: reply.kind === "result" ? "result" : `${reply.error.type}/${reply.error.condition}`,
    latencyMs: deps.now() - started,
  });
  return reply;
}
