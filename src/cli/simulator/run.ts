import { randomBytes, randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  buildEncryptedElement,
  buildPush,
  encodeBase64,
  type OpenError,
  openPushNotification,
  type PushPlaintext,
  type PushPriority,
  parseEnable,
  type ReceivedPushPlaintext,
  type SealedPush,
  sealPushNotification,
  serializePushPlaintext,
} from "../../omemo";
import { serialize } from "../../xmpp/element";
import { parseXml, type XmlElement } from "../../xmpp/xml";
import { EXAMPLE_OMEMO_MESSAGE } from "./example";
import { accountNames, type SimulatedProvider, type SimulatorOptions } from "./options";
import {
  type DeviceRegistration,
  describeIqError,
  enableElement,
  firstDeviceIdFor,
  publishIq,
  readRegistration,
  registerDeviceIq,
} from "./stanzas";

/** The gateway as its `/health` describes it. */
export interface GatewayStep {
  readonly url: string;
  readonly pushJid: string;
  readonly providers: readonly string[];
  readonly version?: string;
}

/** Step 1: the client registers its device with the push service. */
export interface RegisterStep extends DeviceRegistration {
  readonly account: string;
  readonly provider: SimulatedProvider;
  readonly deviceToken: string;
  readonly request: string;
  readonly reply: string;
}

/** Step 2: the `<enable/>` the client sends its own server, and what `parseEnable` reads back. */
export interface EnableStep {
  readonly xml: string;
  /** Base64 of the fresh AES-128 key. */
  readonly key: string;
  readonly deviceId: string;
  /** Where the device id came from: `--device-id`, the message's first key for the account, or chance. */
  readonly deviceIdSource: "flag" | "message" | "random";
  readonly parsed: {
    readonly jid: string;
    readonly node: string;
    readonly algorithm: string;
    readonly maxSize?: number;
    readonly omemoDeviceId?: string;
  };
}

/** Step 3: the server builds and seals the push plaintext of the message. */
export interface SealStep {
  /** The `--message` path, or `built-in`. */
  readonly source: string;
  readonly stanza: string;
  /** The plaintext as built, before the budget. */
  readonly built: PushPlaintext;
  /** The JSON that was sealed (after the budget). */
  readonly json: string;
  /** `fits`, or what the budget of `max-size` took away. */
  readonly budget: "fits" | "omemo dropped" | "message trimmed";
  readonly sealed: SealedPush;
  readonly voip: boolean;
  /**
   * What the builder says to publish with (`<priority xmlns='tigase:push:priority:0'/>`): `low` for a
   * push with nothing to show, such as an OMEMO key transport element, `high` otherwise.
   */
  readonly priority: PushPriority;
}

/** Step 4: the server publishes to the push service. */
export interface PublishStep {
  readonly request: string;
  readonly httpStatus: number;
  readonly reply: string;
}

/** Step 5: what the sandbox device got, and what the simulator's device opened. */
export interface DeviceStep {
  readonly page: string;
  /** The push as the live page lists it (`GET /api/pushes`). */
  readonly push: Readonly<Record<string, unknown>>;
  /** What the page itself made of it (`opened`, `failed`, `no-key`, `not-encrypted`). */
  readonly pageDecryption: string;
  /** The push opened with the key by {@link openPushNotification} (tag verified). */
  readonly opened: ReceivedPushPlaintext;
}

export interface SimulationReport {
  readonly gateway: GatewayStep;
  readonly register: RegisterStep;
  readonly enable: EnableStep;
  readonly seal: SealStep;
  readonly publish: PublishStep;
  readonly device?: DeviceStep;
}

/** The steps of a run: the report's, plus telling the page the key and reading the message. */
export type StepName = keyof SimulationReport | "key" | "message";

/** One finished step and its result. */
export type StepEvent = {
  [K in keyof SimulationReport]-?: { readonly name: K; readonly step: NonNullable<SimulationReport[K]> };
}[keyof SimulationReport];

/** Each step's result as it completes (the readable report prints them one by one). */
export type StepListener = (event: StepEvent) => void;

/** A step that failed: which one, and a message that says what to do. */
export class SimulationError extends Error {
  constructor(
    readonly step: StepName,
    message: string,
    readonly partial: Partial<SimulationReport>,
  ) {
    super(message);
  }
}

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.message}${cause}`;
}

function randomDeviceToken(provider: SimulatedProvider): string {
  if (provider === "apns") return randomBytes(32).toString("hex");
  return `sim${randomBytes(8).toString("hex")}:APA91b${randomBytes(105).toString("base64url")}`;
}

function budgetOf(built: PushPlaintext, sealed: PushPlaintext): SealStep["budget"] {
  if (built.omemo !== undefined && sealed.omemo === undefined)
    return built.message === sealed.message ? "omemo dropped" : "message trimmed";
  return built.message === sealed.message ? "fits" : "message trimmed";
}

function sealedOf(provider: SimulatedProvider, payload: unknown): SealedPush | undefined {
  const holder = provider === "apns" ? payload : isObject(payload) && isObject(payload.message) && payload.message.data;
  if (!isObject(holder)) return undefined;
  const { iv, encrypted } = holder;
  return typeof iv === "string" && typeof encrypted === "string" ? { iv, encrypted } : undefined;
}

function describeOpenError(error: OpenError): string {
  return `${error.kind}: ${error.reason}`;
}

/**
 * Runs one simulation against a gateway: plays the client (register-device, `<enable/>`), the user's
 * server (plaintext, seal, publish) and the device (reads the live page, opens the push). Throws a
 * {@link SimulationError} naming the failed step.
 */
export class Simulation {
  private readonly partial: {
    -readonly [K in keyof SimulationReport]?: SimulationReport[K];
  } = {};
  private readonly names: { bare: string; full: string };
  private readonly run = randomBytes(4).toString("hex");

  constructor(
    private readonly options: SimulatorOptions,
    private readonly onStep: StepListener = () => {},
  ) {
    this.names = accountNames(options);
  }

  async execute(): Promise<SimulationReport> {
    const message = await this.readMessage();
    const gateway = await this.step("gateway", () => this.health());
    const register = await this.step("register", () => this.register(gateway));
    const key = randomBytes(16);
    if (this.options.device) await this.tellPage(register.deviceToken, encodeBase64(key));
    const enable = await this.step("enable", () => this.enable(gateway, register, key, message));
    const seal = await this.step("seal", () => this.seal(message, enable, key, register.maxPayloadSize));
    const publish = await this.step("publish", () => this.publish(gateway, register, seal));
    const report: SimulationReport = { gateway, register, enable, seal, publish };
    if (!this.options.device) return report;
    const device = await this.step("device", () => this.device(register, seal, key));
    return { ...report, device };
  }

  private async step<K extends keyof SimulationReport>(
    name: K,
    run: () => Promise<NonNullable<SimulationReport[K]>>,
  ): Promise<NonNullable<SimulationReport[K]>> {
    let result: NonNullable<SimulationReport[K]>;
    try {
      result = await run();
    } catch (error) {
      if (error instanceof SimulationError) throw error;
      throw this.fail(name, reasonOf(error));
    }
    this.partial[name] = result;
    this.onStep({ name, step: result } as StepEvent);
    return result;
  }

  private fail(step: StepName, message: string): SimulationError {
    return new SimulationError(step, message, { ...this.partial });
  }

  private async fetch(step: StepName, what: string, url: string, init?: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      const hint = step === "gateway" ? "is npm start running?" : "start the sandbox (npm start) or pass --no-device";
      throw this.fail(step, `${what} at ${url} does not answer (${reasonOf(error)}): ${hint}`);
    }
  }

  private async health(): Promise<GatewayStep> {
    const url = `${this.options.gateway}/health`;
    const response = await this.fetch("gateway", "the gateway", url);
    const text = await response.text();
    if (response.status !== 200)
      throw this.fail("gateway", `GET ${url} answered ${response.status}: ${text.slice(0, 300)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw this.fail("gateway", `GET ${url} did not answer JSON: ${text.slice(0, 200)}`);
    }
    if (!isObject(body)) throw this.fail("gateway", `GET ${url} did not answer a JSON object`);
    const providers = Array.isArray(body.providers) ? body.providers.filter((p) => typeof p === "string") : [];
    const pushJid = this.options.pushJid ?? (typeof body.jid === "string" ? body.jid : undefined);
    if (pushJid === undefined) throw this.fail("gateway", "the gateway's /health names no jid: pass --push-jid");
    if (!providers.includes(this.options.provider))
      throw this.fail(
        "gateway",
        `the gateway offers ${providers.join(", ") || "no provider"}, not ${this.options.provider}: pick --provider`,
      );
    return {
      url: this.options.gateway,
      pushJid,
      providers,
      ...(typeof body.version === "string" ? { version: body.version } : {}),
    };
  }

  private async postXmpp(step: StepName, stanza: XmlElement): Promise<{ status: number; text: string }> {
    const token = this.options.gatewayToken;
    const response = await this.fetch(step, "the gateway's /xmpp", `${this.options.gateway}/xmpp`, {
      method: "POST",
      headers: {
        "content-type": "application/xml",
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      },
      body: serialize(stanza),
    });
    const text = await response.text();
    if (response.status === 401)
      throw this.fail(step, "the gateway refused /xmpp with 401: pass its GATEWAY_TOKEN with --token");
    if (response.status !== 200) throw this.fail(step, `POST /xmpp answered ${response.status}: ${text.slice(0, 300)}`);
    return { status: response.status, text };
  }

  private parseReply(step: StepName, text: string): XmlElement {
    const parsed = parseXml(text);
    if (!parsed.ok) throw this.fail(step, `the reply is not XML (${parsed.error.reason}): ${text.slice(0, 300)}`);
    return parsed.value;
  }

  private async register(gateway: GatewayStep): Promise<RegisterStep> {
    const deviceToken = this.options.deviceToken ?? randomDeviceToken(this.options.provider);
    const iq = registerDeviceIq({
      id: `sim-reg-${this.run}`,
      from: this.names.full,
      pushJid: gateway.pushJid,
      provider: this.options.provider,
      token: deviceToken,
      ...(this.options.environment !== undefined ? { environment: this.options.environment } : {}),
    });
    const { text } = await this.postXmpp("register", iq);
    const registration = readRegistration(this.parseReply("register", text));
    if (typeof registration === "string") throw this.fail("register", `register-device ${registration}`);
    return {
      account: this.names.full,
      provider: this.options.provider,
      deviceToken,
      ...registration,
      request: serialize(iq),
      reply: text,
    };
  }

  private async tellPage(token: string, key: string): Promise<void> {
    const url = `${this.options.page}/api/keys`;
    const response = await this.fetch("key", "the live device page", url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, key }),
    });
    const text = await response.text();
    if (response.status !== 200)
      throw this.fail("key", `POST ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  }

  private async readMessage(): Promise<{ source: string; text: string; stanza: XmlElement }> {
    const path = this.options.messagePath;
    let text = EXAMPLE_OMEMO_MESSAGE;
    if (path !== undefined) {
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        throw this.fail("message", `cannot read --message ${path}: ${reasonOf(error)}`);
      }
    }
    const parsed = parseXml(text.trim());
    if (!parsed.ok)
      throw this.fail("message", `--message ${path ?? ""} is not one XML element: ${parsed.error.reason}`);
    return { source: path ?? "built-in", text: text.trim(), stanza: parsed.value };
  }

  private async enable(
    gateway: GatewayStep,
    register: RegisterStep,
    key: Uint8Array,
    message: { stanza: XmlElement },
  ): Promise<EnableStep> {
    const fromMessage = firstDeviceIdFor(message.stanza, this.names.bare);
    const deviceId = this.options.deviceId ?? fromMessage ?? String(randomInt(1, 2 ** 31));
    const deviceIdSource =
      this.options.deviceId !== undefined ? "flag" : fromMessage !== undefined ? "message" : "random";
    const keyText = encodeBase64(key);
    const enable = enableElement({
      pushJid: gateway.pushJid,
      node: register.node,
      key: keyText,
      maxSize: register.maxPayloadSize,
      deviceId,
    });
    const xml = serialize(enable);
    const reread = parseXml(xml);
    if (!reread.ok) throw this.fail("enable", `the printed <enable/> is not XML: ${reread.error.reason}`);
    const parsed = parseEnable(reread.value);
    if (!parsed.ok) throw this.fail("enable", `parseEnable refuses the <enable/>: ${parsed.error.reason}`);
    const { jid, node, encryption, omemoDeviceId } = parsed.value;
    const agrees =
      jid === gateway.pushJid &&
      node === register.node &&
      encryption !== undefined &&
      encodeBase64(encryption.key) === keyText &&
      encryption.maxSize === register.maxPayloadSize &&
      omemoDeviceId === deviceId;
    if (!agrees || encryption === undefined)
      throw this.fail("enable", "parseEnable read back something else than was written");
    return {
      xml,
      key: keyText,
      deviceId,
      deviceIdSource,
      parsed: { jid, node, algorithm: encryption.algorithm, maxSize: encryption.maxSize, omemoDeviceId },
    };
  }

  private async seal(
    message: { source: string; text: string; stanza: XmlElement },
    enable: EnableStep,
    key: Uint8Array,
    maxSize: number,
  ): Promise<SealStep> {
    const built = buildPush(message.stanza, {
      unread: this.options.unread,
      omemoDevice: { deviceId: enable.deviceId, recipient: this.names.bare },
      ...(this.options.placeholder !== undefined ? { placeholder: this.options.placeholder } : {}),
    });
    if (!built.ok) throw this.fail("seal", `no push for this stanza: ${built.error.reason}`);
    const sealed = await sealPushNotification(built.value.plaintext, key, { maxSize });
    if (!sealed.ok) throw this.fail("seal", sealed.error.reason);
    const { plaintext, voip, iv, encrypted } = sealed.value;
    return {
      source: message.source,
      stanza: message.text,
      built: built.value.plaintext,
      json: serializePushPlaintext(plaintext),
      budget: budgetOf(built.value.plaintext, plaintext),
      sealed: { iv, encrypted },
      voip,
      priority: built.value.priority,
    };
  }

  private async publish(gateway: GatewayStep, register: RegisterStep, seal: SealStep): Promise<PublishStep> {
    const domain = this.options.account.domain;
    const iq = publishIq({
      id: `sim-pub-${this.run}`,
      from: domain,
      pushJid: gateway.pushJid,
      node: register.node,
      encrypted: buildEncryptedElement(seal.sealed, { voip: seal.voip }),
      priority: seal.priority,
    });
    const { status, text } = await this.postXmpp("publish", iq);
    const reply = this.parseReply("publish", text);
    const request = serialize(iq);
    if (reply.attrs.type !== "result") {
      this.partial.publish = { request, httpStatus: status, reply: text };
      throw this.fail("publish", `the gateway refused the publish: ${describeIqError(reply)}`);
    }
    return { request, httpStatus: status, reply: text };
  }

  private async findPush(register: RegisterStep, seal: SealStep): Promise<JsonObject> {
    const url = `${this.options.page}/api/pushes?token=${encodeURIComponent(register.deviceToken)}`;
    const deadline = Date.now() + this.options.timeoutMs;
    let seen = 0;
    for (;;) {
      const response = await this.fetch("device", "the live device page", url);
      const body: unknown = response.status === 200 ? await response.json() : undefined;
      if (!isObject(body) || !Array.isArray(body.pushes))
        throw this.fail("device", `GET ${url} answered ${response.status} without a push list`);
      const pushes = body.pushes.filter(isObject);
      seen = pushes.length;
      const mine = pushes.find(
        (push) => sealedOf(register.provider, push.payload)?.encrypted === seal.sealed.encrypted,
      );
      if (mine !== undefined) return mine;
      if (Date.now() > deadline) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    throw this.fail(
      "device",
      `the sandbox device got no push with this blob in ${this.options.timeoutMs} ms (${seen} other push(es) for the token): is ${this.options.page} the page of the sandbox behind ${this.options.gateway}?`,
    );
  }

  private async device(register: RegisterStep, seal: SealStep, key: Uint8Array): Promise<DeviceStep> {
    const push = await this.findPush(register, seal);
    if (push.delivered !== true)
      throw this.fail("device", `the fake ${register.provider} refused the push: ${push.status} ${push.reason ?? ""}`);
    const received = sealedOf(register.provider, push.payload);
    if (received === undefined) throw this.fail("device", "the push carries no encrypted and iv");
    const opened = await openPushNotification(received, key);
    if (!opened.ok) throw this.fail("device", `the device cannot open the push: ${describeOpenError(opened.error)}`);
    const decryption =
      isObject(push.decryption) && typeof push.decryption.state === "string" ? push.decryption.state : "?";
    return { page: this.options.page, push, pageDecryption: decryption, opened: opened.value };
  }
}
