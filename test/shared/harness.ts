import type { Hono } from "hono";
import type { GatewayConfig } from "../../src/config";
import type { GatewayDeps } from "../../src/gateway/deps";
import { createKeyring } from "../../src/gateway/keys";
import { type AppOptions, createApp } from "../../src/http/app";
import type { LogFields, LogLevel } from "../../src/log";
import type { PushProvider } from "../../src/ports";
import type { RegistrationStore } from "../../src/ports/store";
import { parseGatewayConfig } from "../../src/providers/registry";
import { MetricBatch } from "../../src/runtime/metric-batch";
import { MemoryRegistrationStore } from "../../src/store";
import { childElement, childElements, parseXml, textOf, type XmlElement } from "../../src/xmpp";
import { ProgrammableProvider, programmableDirectory } from "../fakes/programmable-provider";

export const PUSH_JID = "push.example.net";
export const GATEWAY_TOKEN = "test-gateway-token";
/** The REST credential of the default app in the REST tests (`REST_API_KEYS`). */
export const REST_KEY = "rest-key-of-the-default-app-0123456789";
/** The server key the harness derives publish secrets from. */
export const SERVER_KEY = "test-server-key-0123456789abcdef0123456789";

/** A deterministic random source: a counter, so that nodes differ but runs repeat. */
export function counterRandom(): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => {
    counter += 1;
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = (counter * 31 + i * 7) & 0xff;
    bytes[0] = counter & 0xff;
    bytes[1] = (counter >> 8) & 0xff;
    return bytes;
  };
}

export interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: LogFields;
}

export interface Harness {
  readonly app: Hono;
  readonly deps: GatewayDeps;
  readonly store: RegistrationStore;
  readonly apns: ProgrammableProvider;
  readonly fcm: ProgrammableProvider;
  readonly logs: LogEntry[];
  /** Every metric sample the use cases reported, labels closed. */
  readonly metrics: MetricBatch;
  readonly clock: { now: number };
  readonly sleeps: number[];
  /** POSTs a stanza to /xmpp with the gateway token and returns the HTTP response. */
  post(stanza: string, headers?: Record<string, string>): Promise<Response>;
  /** POSTs a stanza and parses the 200 reply. */
  iq(stanza: string): Promise<XmlElement>;
}

export interface HarnessOptions {
  readonly env?: Record<string, unknown>;
  readonly store?: RegistrationStore;
  readonly providers?: Readonly<Record<string, Partial<Record<"apns" | "fcm", PushProvider>>>>;
  readonly apnsPayloadSize?: number;
  /** What the runtime adds to the app (a rate limiter, `GET /metrics`). */
  readonly appOptions?: AppOptions;
}

/** The app over the memory store and programmable providers, as the app-tier tests use it. */
export function makeHarness(options: HarnessOptions = {}): Harness {
  const config: GatewayConfig = parseGatewayConfig({ PUSH_JID, GATEWAY_TOKEN, ...options.env });
  const store = options.store ?? new MemoryRegistrationStore();
  const apns = new ProgrammableProvider("apns", options.apnsPayloadSize ?? 3000);
  const fcm = new ProgrammableProvider("fcm", 3500);
  const logs: LogEntry[] = [];
  const clock = { now: 1_750_000_000_000 };
  const sleeps: number[] = [];
  const metrics = new MetricBatch();
  const deps: GatewayDeps = {
    config,
    store,
    providers: programmableDirectory(options.providers ?? { default: { apns, fcm } }),
    keys: createKeyring(config.serverKey ?? SERVER_KEY),
    log: { log: (level, event, fields = {}) => logs.push({ level, event, fields }) },
    metrics,
    now: () => clock.now,
    randomBytes: counterRandom(),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
    },
  };
  const app = createApp(deps, options.appOptions);
  const post = async (stanza: string, headers: Record<string, string> = {}) =>
    app.request("/xmpp", {
      method: "POST",
      headers: { authorization: `Bearer ${GATEWAY_TOKEN}`, "content-type": "application/xml", ...headers },
      body: stanza,
    });
  return {
    app,
    deps,
    store,
    apns,
    fcm,
    logs,
    metrics,
    clock,
    sleeps,
    post,
    async iq(stanza) {
      const response = await post(stanza);
      const text = await response.text();
      if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${text}`);
      const parsed = parseXml(text);
      if (!parsed.ok) throw new Error(`reply is not XML: ${text}`);
      return parsed.value;
    },
  };
}

/** The condition and type of an IQ error reply, e.g. `cancel/item-not-found`. */
export function errorOf(reply: XmlElement): string | undefined {
  const error = childElement(reply, "error");
  if (!error) return undefined;
  const condition = childElements(error).find(
    (child) => child.ns === "urn:ietf:params:xml:ns:xmpp-stanzas" && child.name !== "text",
  );
  return `${error.attrs.type}/${condition?.name}`;
}

/** The `<text/>` of an IQ error reply. */
export function errorText(reply: XmlElement): string | undefined {
  const error = childElement(reply, "error");
  const text = error && childElement(error, "text", "urn:ietf:params:xml:ns:xmpp-stanzas");
  return text && textOf(text);
}

/** The values of a field in the data form of a command reply. */
export function formField(reply: XmlElement, name: string): { type: string | undefined; values: string[] } | undefined {
  const command = childElement(reply, "command", "http://jabber.org/protocol/commands");
  const x = command && childElement(command, "x", "jabber:x:data");
  const field = x && childElements(x, "field").find((f) => f.attrs.var === name);
  if (!field) return undefined;
  return { type: field.attrs.type, values: childElements(field, "value").map(textOf) };
}

/** A register-device command as Siskin sends it. */
export function registerDeviceIq(options: {
  from?: string;
  id?: string;
  provider?: string;
  token?: string;
  voipToken?: string;
  extra?: string;
}): string {
  const {
    from = "romeo@montague.example/orchard",
    id = "reg-1",
    provider = "tigase:messenger:apns:1",
    token = "apns-token-1",
  } = options;
  return `<iq xmlns='jabber:component:accept' type='set' from='${from}' to='${PUSH_JID}' id='${id}'>
  <command xmlns='http://jabber.org/protocol/commands' node='register-device' action='execute'>
    <x xmlns='jabber:x:data' type='submit'>
      <field var='provider'><value>${provider}</value></field>
      <field var='device-token'><value>${token}</value></field>${options.voipToken ? `\n      <field var='device-second-token'><value>${options.voipToken}</value></field>` : ""}${options.extra ?? ""}
    </x>
  </command>
</iq>`;
}

/** A register-push-fcm command as Conversations sends it. */
export function registerP2Iq(options: {
  from?: string;
  id?: string;
  token?: string;
  deviceId?: string;
  muc?: string;
  provider?: "fcm" | "apns";
}): string {
  const {
    from = "juliet@capulet.example/phone",
    id = "p2-1",
    token = "fcm-token-1",
    deviceId = "a1b2c3d4",
    provider = "fcm",
  } = options;
  return `<iq type='set' from='${from}' to='${PUSH_JID}' id='${id}'><command xmlns='http://jabber.org/protocol/commands' node='register-push-${provider}' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='token'><value>${token}</value></field><field var='android-id'><value>${deviceId}</value></field>${options.muc ? `<field var='muc'><value>${options.muc}</value></field>` : ""}</x></command></iq>`;
}

/** A publish as Prosody's mod_cloud_notify sends it, with an optional secret. */
export function publishIq(options: {
  node: string;
  from?: string;
  id?: string;
  notification?: string;
  secret?: string;
}): string {
  const { node, from = "montague.example", id = "pub-1" } = options;
  const notification =
    options.notification ??
    `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field><field var='last-message-sender'><value>juliet@capulet.example</value></field><field var='last-message-body'><value>New Message!</value></field></x>`;
  const options_ =
    options.secret === undefined
      ? ""
      : `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>${options.secret}</value></field></x></publish-options>`;
  return `<iq type='set' from='${from}' to='${PUSH_JID}' id='${id}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item><notification xmlns='urn:xmpp:push:0'>${notification}</notification></item></publish>${options_}</pubsub></iq>`;
}
