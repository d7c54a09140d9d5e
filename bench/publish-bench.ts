/**
 * The publish path over HTTP: the gateway's Node entry against the publish floor, both forked fresh per
 * run (bench/publish-server.ts), driven from this process with keep-alive HTTP/1.1 requests to `/xmpp`.
 * CPU is the server process's own (process.cpuUsage read over IPC before and after a batch).
 */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { type Agent, request } from "node:http";
import { REPO_ROOT } from "./lib";

export const GATEWAY_TOKEN = "bench-gateway-token-0123456789abcdef";
export const PUSH_JID = "push.bench.example";

export interface PublishServer {
  readonly port: number;
  readonly child: ChildProcess;
  cpuUs(): Promise<number>;
  rss(): Promise<number>;
  stop(): Promise<void>;
}

function ask<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    child.send({ type });
  });
}

export async function startPublishServer(
  kind: "gateway" | "floor",
  envPath: string,
  options: { exposeGc?: boolean; profileDir?: string } = {},
): Promise<PublishServer> {
  const child = fork(`${REPO_ROOT}bench/publish-server.ts`, [kind, envPath], {
    cwd: REPO_ROOT,
    execArgv: [
      "--import",
      "tsx",
      ...(options.exposeGc ? ["--expose-gc"] : []),
      ...(options.profileDir ? ["--cpu-prof", "--cpu-prof-dir", options.profileDir] : []),
    ],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${kind} server exited (${code}) before listening`)));
    const onMessage = (message: { type?: string; port?: number }) => {
      if (message.type !== "port" || message.port === undefined) return;
      child.off("message", onMessage);
      resolve(message.port);
    };
    child.on("message", onMessage);
  });
  return {
    port,
    child,
    cpuUs: async () => {
      const { user, system } = await ask<{ user: number; system: number }>(child, "cpu");
      return user + system;
    },
    rss: async () => (await ask<{ rss: number }>(child, "rss")).rss,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.send({ type: "stop" });
      }),
  };
}

/** POSTs one stanza to `/xmpp`; resolves with the status and body. */
export function postStanza(agent: Agent, port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: "127.0.0.1",
        port,
        path: "/xmpp",
        method: "POST",
        headers: {
          authorization: `Bearer ${GATEWAY_TOKEN}`,
          "content-type": "application/xml",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends `count` stanzas, `concurrency` at a time; returns how many were not answered 200 with a result. */
export async function publishMany(
  agent: Agent,
  port: number,
  body: string,
  count: number,
  concurrency: number,
  isOk: (answer: { status: number; text: string }) => boolean,
): Promise<number> {
  let next = 0;
  let failures = 0;
  const lane = async () => {
    while (next < count) {
      next += 1;
      if (!isOk(await postStanza(agent, port, body))) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return failures;
}

/** A field's first value in a command result (the reply is the gateway's own, single-quoted XML). */
function fieldValue(reply: string, name: string): string {
  const match = new RegExp(`<field var='${name}'[^>]*>\\s*<value>([^<]*)</value>`).exec(reply);
  if (!match?.[1]) throw new Error(`no ${name} in ${reply.slice(0, 300)}`);
  return match[1];
}

export const DIALECTS = ["Prosody", "ejabberd", "Tigase encrypted", "p2 with secret"] as const;
export type Dialect = (typeof DIALECTS)[number];

/** The publish of each dialect, for the floor (any node) or for a gateway (registered first). */
export function dialectStanza(dialect: Dialect, node: string, secret = "bench-secret"): string {
  const PUBSUB = "http://jabber.org/protocol/pubsub";
  switch (dialect) {
    case "Prosody":
      // mod_cloud_notify's summary form (test/shared/harness.ts publishIq).
      return `<iq type='set' from='montague.example' to='${PUSH_JID}' id='pub-1'><pubsub xmlns='${PUBSUB}'><publish node='${node}'><item><notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field><field var='last-message-sender'><value>juliet@capulet.example</value></field><field var='last-message-body'><value>New Message!</value></field></x></notification></item></publish></pubsub></iq>`;
    case "ejabberd":
      // ejabberd 23.01 mod_push's default publish as the bridge posts it (docs/ejabberd.md).
      return `<iq to="${PUSH_JID}" from="montague.example" type="set" id="rr-1795689574345-17050909314253987565-7LlIrlMSzkJX3sQOvqAYy4aRGsY=-62188612"><pubsub xmlns="${PUBSUB}"><publish node="${node}"><item><notification xmlns="urn:xmpp:push:0"><x type="submit" xmlns="jabber:x:data"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:push:summary</value></field><field var="last-message-body" type="text-single" label="The body text of the last received message"><value>New message</value></field></x></notification></item></publish><publish-options><x type="submit" xmlns="jabber:x:data"><field var="FORM_TYPE"><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var="secret"><value>${secret}</value></field></x></publish-options></pubsub></iq>`;
    case "Tigase encrypted":
      // test/fixtures/push/encrypted-publish.xml (Tigase's encrypted push with its priority).
      return readFileSync(`${REPO_ROOT}test/fixtures/push/encrypted-publish.xml`, "utf8")
        .replace("NODE", node)
        .replace("from='capulet.example'", "from='montague.example'")
        .replace("to='push.example.net'", `to='${PUSH_JID}'`);
    case "p2 with secret":
      // Prosody's publish with the registration's secret in publish-options (a p2 / Conversations registration).
      return `<iq type='set' from='montague.example' to='${PUSH_JID}' id='pub-1'><pubsub xmlns='${PUBSUB}'><publish node='${node}'><item><notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>1</value></field><field var='last-message-sender'><value>juliet@capulet.example</value></field><field var='last-message-body'><value>New Message!</value></field></x></notification></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>${secret}</value></field></x></publish-options></pubsub></iq>`;
  }
}

/** Registers one device on a running gateway for `dialect` and returns the publish to send it. */
export async function registerFor(agent: Agent, port: number, dialect: Dialect): Promise<string> {
  const COMMANDS = "http://jabber.org/protocol/commands";
  if (dialect === "p2 with secret") {
    const iq = `<iq type='set' from='romeo@montague.example/phone' to='${PUSH_JID}' id='p2-1'><command xmlns='${COMMANDS}' node='register-push-fcm' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='token'><value>${"f1".repeat(70)}</value></field><field var='android-id'><value>a1b2c3d4</value></field></x></command></iq>`;
    const answer = await postStanza(agent, port, iq);
    if (answer.status !== 200) throw new Error(`p2 registration: ${answer.status} ${answer.text.slice(0, 200)}`);
    return dialectStanza(dialect, fieldValue(answer.text, "node"), fieldValue(answer.text, "secret"));
  }
  const iq = `<iq type='set' from='romeo@montague.example/orchard' to='${PUSH_JID}' id='reg-1'><command xmlns='${COMMANDS}' node='register-device' action='execute'><x xmlns='jabber:x:data' type='submit'><field var='provider'><value>tigase:messenger:apns:1</value></field><field var='device-token'><value>${"a1".repeat(32)}</value></field></x></command></iq>`;
  const answer = await postStanza(agent, port, iq);
  if (answer.status !== 200) throw new Error(`registration: ${answer.status} ${answer.text.slice(0, 200)}`);
  return dialectStanza(dialect, fieldValue(answer.text, "node"));
}

/** Whether a publish was answered with an IQ result. */
export function isResult(answer: { status: number; text: string }): boolean {
  return answer.status === 200 && answer.text.includes("type='result'");
}
