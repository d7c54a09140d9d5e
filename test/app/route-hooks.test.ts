import { describe, expect, it } from "vitest";
import type { Registration } from "../../src/domain/registration";
import { failure, type Result, success } from "../../src/domain/result";
import type { RouteRefusal, TokenDeadOutcome } from "../../src/ports/provider";
import { ProgrammableProvider } from "../fakes/programmable-provider";
import {
  errorOf,
  errorText,
  formField,
  type Harness,
  makeHarness,
  publishIq,
  REST_KEY,
  registerDeviceIq,
  registerP2Iq,
} from "./harness";

/**
 * A provider whose delivery route keeps an endpoint per token in the registration's `route`, as the
 * SNS route does: it refuses the tokens in `refused`, and a dead token takes `siblings` with it.
 */
class RoutedProvider extends ProgrammableProvider {
  readonly events: string[] = [];
  /** The node of every registration the route was told of, in order. */
  readonly nodes: string[] = [];
  readonly refused = new Set<string>();
  siblings: readonly string[] = [];

  async registered(registration: Registration): Promise<Result<Registration, RouteRefusal>> {
    this.events.push(`registered ${registration.token}`);
    this.nodes.push(registration.node);
    if (this.refused.has(registration.token))
      return failure({ field: "token", reason: "the platform refused this token" });
    return success({ ...registration, route: { endpoint: `arn:endpoint/${registration.token}` } });
  }

  async unregistered(registration: Registration): Promise<void> {
    this.events.push(`unregistered ${registration.route?.endpoint} ${registration.account}`);
  }

  async tokenDead(registration: Registration, outcome: TokenDeadOutcome): Promise<readonly string[]> {
    this.events.push(`token-dead ${registration.route?.endpoint} ${outcome.reason}`);
    return this.siblings;
  }
}

function unregisterIq(token: string): string {
  return `<iq type='set' from='romeo@montague.example/orchard' to='push.example.net' id='un'><command xmlns='http://jabber.org/protocol/commands' node='unregister-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>${token}</value></field></x></command></iq>`;
}

async function registerNode(h: Harness, options: Parameters<typeof registerDeviceIq>[0]): Promise<string> {
  return formField(await h.iq(registerDeviceIq(options)), "node")?.values[0] ?? "";
}

describe("delivery route hooks (docs/architecture.md section 4.2)", () => {
  it("stores what the route attached at registration, and tells it of unregistration", async () => {
    const apns = new RoutedProvider("apns");
    const h = makeHarness({ providers: { default: { apns } } });
    const node = await registerNode(h, { token: "tok-1" });
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.route).toEqual({ endpoint: "arn:endpoint/tok-1" });
    expect((await h.iq(unregisterIq("tok-1"))).attrs.type).toBe("result");
    expect(apns.events).toEqual(["registered tok-1", "unregistered arn:endpoint/tok-1 romeo@montague.example"]);
  });

  it("hands the route its state again at a refresh, and stores what it returns", async () => {
    const apns = new RoutedProvider("apns");
    const seen: Array<Registration["route"]> = [];
    const registered = apns.registered.bind(apns);
    apns.registered = async (registration) => {
      seen.push(registration.route);
      return registered(registration);
    };
    const h = makeHarness({ providers: { default: { apns } } });
    // A p2 registration is refreshed by its device id, whatever the token.
    const p2 = async (token: string) =>
      formField(await h.iq(registerP2Iq({ provider: "apns", token, deviceId: "d1" })), "node")?.values[0] ?? "";
    const node = await p2("tok-1");
    expect(node).not.toBe("");
    expect(await p2("tok-2")).toBe(node);
    expect(seen).toEqual([undefined, { endpoint: "arn:endpoint/tok-1" }]);
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.route).toEqual({ endpoint: "arn:endpoint/tok-2" });
  });

  it("tells the route when the provider said the token is dead, with the provider's outcome", async () => {
    const apns = new RoutedProvider("apns");
    const h = makeHarness({ providers: { default: { apns } } });
    const node = await registerNode(h, { token: "tok-2" });
    apns.willAnswer({ kind: "token-dead", reason: "Unregistered" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(apns.events).toEqual(["registered tok-2", "token-dead arn:endpoint/tok-2 Unregistered"]);
    expect(await h.store.get(node)).toEqual({ kind: "deleted" });
  });

  it("undoes a registration the route refuses, and answers the client with an error naming the field", async () => {
    const apns = new RoutedProvider("apns");
    apns.refused.add("tok-bad");
    const h = makeHarness({ providers: { default: { apns } } });
    const reply = await h.iq(registerDeviceIq({ token: "tok-bad" }));
    expect(errorOf(reply)).toBe("modify/bad-request");
    expect(errorText(reply)).toBe("the platform refused this token");
    expect(
      await h.store.findByIdentity({
        style: "token",
        provider: "apns",
        account: "romeo@montague.example",
        device: "tok-bad",
      }),
    ).toBeUndefined();
    // The route is told, so that it can release whatever it made before it refused.
    expect(apns.events).toEqual(["registered tok-bad", "unregistered undefined romeo@montague.example"]);
    expect(h.logs.find((entry) => entry.event === "registration-refused")?.fields).toMatchObject({
      reason: "route",
      field: "token",
    });
    // The node it was given is dead: a registration again gets a new one.
    const [undone = ""] = apns.nodes;
    expect(await h.store.get(undone)).toEqual({ kind: "deleted" });
    apns.refused.clear();
    const again = await registerNode(h, { token: "tok-bad" });
    expect(again).not.toBe("");
    expect(again).not.toBe(undone);
  });

  it("answers a REST client whose token the route refuses with 400 naming the field", async () => {
    const apns = new RoutedProvider("apns");
    apns.refused.add("rest-bad");
    const h = makeHarness({
      providers: { default: { apns } },
      env: { REST_API_KEYS: JSON.stringify({ default: REST_KEY }) },
    });
    const response = await h.app.request("/v1/registrations", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${REST_KEY}` },
      body: JSON.stringify({ provider: "apns", token: "rest-bad", account: "romeo@montague.example" }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "the platform refused this token", field: "token" });
    expect(apns.events).toEqual(["registered rest-bad", "unregistered undefined romeo@montague.example"]);
  });

  it("deletes the registrations that shared the dead token's endpoint, and tells the route of each", async () => {
    const apns = new RoutedProvider("apns");
    const h = makeHarness({ providers: { default: { apns } } });
    // One phone, three accounts, one token: one endpoint serves them all.
    const romeo = await registerNode(h, { token: "tok-3" });
    const juliet = await registerNode(h, { token: "tok-3", from: "juliet@capulet.example/balcony" });
    const nurse = await registerNode(h, { token: "tok-3", from: "nurse@capulet.example/kitchen" });
    const other = await registerNode(h, { token: "tok-4", from: "tybalt@capulet.example/street" });
    // The route names every user of the endpoint, the dead registration itself and one already gone too.
    apns.siblings = [romeo, juliet, "gone-node", nurse];
    apns.events.length = 0;
    apns.willAnswer({ kind: "token-dead", reason: "Unregistered" });

    expect(errorOf(await h.iq(publishIq({ node: romeo })))).toBe("cancel/item-not-found");

    for (const node of [romeo, juliet, nurse]) expect(await h.store.get(node)).toEqual({ kind: "deleted" });
    expect((await h.store.get(other)).kind).toBe("found");
    expect(apns.events).toEqual([
      "token-dead arn:endpoint/tok-3 Unregistered",
      "unregistered arn:endpoint/tok-3 juliet@capulet.example",
      "unregistered arn:endpoint/tok-3 nurse@capulet.example",
    ]);
    expect(h.logs.filter((entry) => entry.fields.via === "shared-endpoint")).toHaveLength(2);
    // Their publishes now answer item-not-found without reaching the provider.
    const sent = apns.sent.length;
    expect(errorOf(await h.iq(publishIq({ node: juliet, from: "capulet.example" })))).toBe("cancel/item-not-found");
    expect(apns.sent).toHaveLength(sent);
  });
});
