import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childElement, parseXml } from "../../src/xmpp";
import { errorOf, formField } from "../app/harness";
import {
  assertPortFree,
  type DetachedProcess,
  freePorts,
  startWranglerDev,
  stopProcessGroup,
  waitForOutput,
} from "./processes";
import { type RunningSandbox, startSandbox } from "./sandbox";

/** The README's curl session, request for request (docs/sandbox.md has it too). */
const SESSION = {
  discoInfo:
    "<iq type='get' from='example.com' to='push.localhost' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
  publishUnknownNode:
    "<iq type='set' from='example.com' to='push.localhost' id='pub1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='no-such-node'><item><notification xmlns='urn:xmpp:push:0'/></item></publish></pubsub></iq>",
};

function postXml(base: string, stanza: string): Promise<Response> {
  return fetch(`${base}/xmpp`, { method: "POST", headers: { "content-type": "application/xml" }, body: stanza });
}

async function replyOf(response: Response) {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  const parsed = parseXml(text);
  if (!parsed.ok) throw new Error(`not XML: ${text}`);
  return parsed.value;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "readme-session-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const MODES = [
  { script: "npm start", flags: [], httpVersion: "1.1" },
  { script: "npm run start:node-sandbox", flags: ["--node"], httpVersion: "2.0" },
] as const;

describe.each(MODES)("$script (scripts/sandbox.ts) answers the README's curl session", (mode) => {
  let sandbox: RunningSandbox | undefined;
  let base = "";

  beforeAll(async () => {
    sandbox = await startSandbox(mode.flags);
    base = sandbox.gateway;
  });

  afterAll(async () => {
    const stopped = await sandbox?.stop();
    expect(stopped?.leakedGateway, "the sandbox left its gateway running").not.toBe(true);
  });

  it("GET /health answers 200 with status ok and both fake providers", async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", jid: "push.localhost", providers: ["apns", "fcm"] });
  });

  it("disco#info answers the pubsub/push identity", async () => {
    const reply = await replyOf(await postXml(base, SESSION.discoInfo));
    expect(reply.attrs).toMatchObject({ type: "result", id: "disco1", from: "push.localhost", to: "example.com" });
    const query = childElement(reply, "query", "http://jabber.org/protocol/disco#info");
    const identity = query && childElement(query, "identity");
    expect(identity?.attrs).toMatchObject({ category: "pubsub", type: "push" });
  });

  it("a publish to an unknown node is item-not-found", async () => {
    const reply = await replyOf(await postXml(base, SESSION.publishUnknownNode));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("cancel/item-not-found");
  });

  it("REST registration is on with the printed credential: create, refresh with the secret, refusal without it, delete", async () => {
    if (!sandbox) throw new Error("no sandbox");
    const key = /the default app's API credential is (\S+)/.exec(sandbox.process.output())?.[1];
    expect(key, "the sandbox prints its REST credential").toMatch(/^[A-Za-z0-9_-]{32}$/);
    const post = (body: unknown, credential = key) =>
      fetch(`${base}/v1/registrations`, {
        method: "POST",
        headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const claim = { provider: "apns", token: randomBytes(32).toString("hex"), account: "juliet@example.com" };
    expect((await post(claim, "not-the-credential")).status).toBe(401);
    const created = await post(claim);
    expect(created.status).toBe(201);
    const { node, secret } = (await created.json()) as { node: string; secret: string };
    const refreshed = await post({ ...claim, token: randomBytes(32).toString("hex"), node, secret });
    expect(refreshed.status).toBe(201);
    expect(await refreshed.json()).toMatchObject({ node, secret });
    expect((await post({ ...claim, token: "evil", node, secret: "A".repeat(24) })).status).toBe(404);
    const withoutSecret = (await (await post(claim)).json()) as { node: string };
    expect(withoutSecret.node).not.toBe(node);
    const del = (token: string) =>
      fetch(`${base}/v1/registrations/${node}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect((await del("wrong")).status).toBe(404);
    expect((await del(secret)).status).toBe(204);
    const publish = await replyOf(
      await postXml(
        base,
        `<iq type='set' from='example.com' to='push.localhost' id='pubr'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item><notification xmlns='urn:xmpp:push:0'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>${secret}</value></field></x></publish-options></pubsub></iq>`,
      ),
    );
    expect(errorOf(publish)).toBe("cancel/item-not-found");
  });

  it("prints the push the fake device received as one line", async () => {
    const token = randomBytes(32).toString("hex");
    const register = await replyOf(
      await postXml(
        base,
        `<iq type='set' from='juliet@example.com/phone' to='push.localhost' id='reg1'><command xmlns='http://jabber.org/protocol/commands' node='register-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>${token}</value></field></x></command></iq>`,
      ),
    );
    const node = formField(register, "node")?.values[0];
    expect(node).toBeDefined();
    const publish = await replyOf(
      await postXml(
        base,
        `<iq type='set' from='example.com' to='push.localhost' id='pub2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item><notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field><field var='last-message-body'><value>Hello from the README</value></field></x></notification></item></publish></pubsub></iq>`,
      ),
    );
    expect(publish.attrs.type).toBe("result");
    if (!sandbox) throw new Error("no sandbox");
    const line = `[apns production HTTP/${mode.httpVersion}] 200 alert token=${token.slice(0, 8)}…`;
    await waitForOutput(sandbox.process, line, 5_000);
    expect(sandbox.process.output()).toContain("Hello from the README");
  });
});

describe("wrangler dev with a bad variable", () => {
  let wrangler: DetachedProcess | undefined;
  let ports: number[] = [];

  afterAll(async () => {
    if (wrangler) await stopProcessGroup(wrangler);
    for (const port of ports) await assertPortFree(port);
  });

  it("answers every request with a 500 naming APNS_PRIVATE_KEY", async () => {
    ports = await freePorts(2);
    const [port = 0, inspectorPort = 0] = ports;
    const emptyEnvFile = join(dir, "empty.env");
    await writeFile(emptyEnvFile, "");
    wrangler = await startWranglerDev({
      port,
      inspectorPort,
      persistTo: join(dir, "bad-state"),
      envFile: emptyEnvFile,
      vars: {
        APNS_TEAM_ID: "TEAM123456",
        APNS_KEY_ID: "KEY7654321",
        APNS_TOPIC: "im.example.app",
        APNS_PRIVATE_KEY: "garbage",
      },
    });
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(500);
    expect(await health.text()).toContain("APNS_PRIVATE_KEY");
    const xmpp = await postXml(`http://127.0.0.1:${port}`, SESSION.discoInfo);
    expect(xmpp.status).toBe(500);
    expect(await xmpp.text()).toContain("APNS_PRIVATE_KEY");
  });
});
