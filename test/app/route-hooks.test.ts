import { describe, expect, it } from "vitest";
import type { Registration } from "../../src/domain/registration";
import { ProgrammableProvider } from "../fakes/programmable-provider";
import { errorOf, formField, makeHarness, publishIq, registerDeviceIq } from "./harness";

/** A provider whose delivery route keeps an endpoint per registration, as the SNS route will. */
class RoutedProvider extends ProgrammableProvider {
  readonly events: string[] = [];

  async registered(registration: Registration): Promise<Registration> {
    this.events.push(`registered ${registration.token}`);
    return { ...registration, endpointArn: `arn:endpoint/${registration.token}` };
  }

  async unregistered(registration: Registration): Promise<void> {
    this.events.push(`unregistered ${registration.endpointArn}`);
  }

  async tokenDead(registration: Registration): Promise<void> {
    this.events.push(`token-dead ${registration.endpointArn}`);
  }
}

function unregisterIq(token: string): string {
  return `<iq type='set' from='romeo@montague.example/orchard' to='push.example.net' id='un'><command xmlns='http://jabber.org/protocol/commands' node='unregister-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>${token}</value></field></x></command></iq>`;
}

describe("delivery route hooks (docs/architecture.md section 4.2)", () => {
  it("stores what the route attached at registration, and tells it of unregistration", async () => {
    const apns = new RoutedProvider("apns");
    const h = makeHarness({ providers: { default: { apns } } });
    const node = formField(await h.iq(registerDeviceIq({ token: "tok-1" })), "node")?.values[0] ?? "";
    const stored = await h.store.get(node);
    expect(stored.kind === "found" && stored.registration.endpointArn).toBe("arn:endpoint/tok-1");
    expect((await h.iq(unregisterIq("tok-1"))).attrs.type).toBe("result");
    expect(apns.events).toEqual(["registered tok-1", "unregistered arn:endpoint/tok-1"]);
  });

  it("tells the route when the provider said the token is dead", async () => {
    const apns = new RoutedProvider("apns");
    const h = makeHarness({ providers: { default: { apns } } });
    const node = formField(await h.iq(registerDeviceIq({ token: "tok-2" })), "node")?.values[0] ?? "";
    apns.willAnswer({ kind: "token-dead", reason: "Unregistered" });
    expect(errorOf(await h.iq(publishIq({ node })))).toBe("cancel/item-not-found");
    expect(apns.events).toEqual(["registered tok-2", "token-dead arn:endpoint/tok-2"]);
  });
});
