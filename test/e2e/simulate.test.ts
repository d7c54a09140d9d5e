import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractOmemoForDevice } from "../../src/omemo";
import { parseXml } from "../../src/xmpp";
import { freePorts, REPO_ROOT, typescriptEntry, waitForOutput } from "./processes";
import { type RunningSandbox, startSandbox } from "./sandbox";

interface Vector {
  readonly name: string;
  readonly deviceId: string;
  readonly recipient: string;
  readonly unread: number;
  readonly messageStanza: string;
  readonly expectedOmemo: unknown;
  /** The exact JSON the server seals (test/vectors/README.md). */
  readonly plaintext: string;
  /** The priority the server publishes with (test/vectors/README.md, version 2). */
  readonly expectedPriority: "high" | "low";
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node --import tsx src/cli/simulate.ts ARGS` (what `npm run simulate -- ARGS` runs), its exit code and output. */
function simulate(args: readonly string[]): Promise<Run> {
  const env = { ...process.env };
  delete env.GATEWAY_TOKEN;
  return new Promise((done) => {
    execFile(
      process.execPath,
      typescriptEntry("src/cli/simulate.ts", args),
      { cwd: REPO_ROOT, env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A run's `--json` report, after checking it exited 0. */
function reportOf(run: Run) {
  expect(run.code, `simulate failed:\n${run.stderr}\n${run.stdout}`).toBe(0);
  return JSON.parse(run.stdout);
}

/** What a JSON round trip makes of a value (undefined fields dropped), for comparing with the report. */
function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

const vectors: Vector[] = JSON.parse(readFileSync(resolve(REPO_ROOT, "test/vectors/omemo-push.json"), "utf8")).vectors;

const PLAIN_MESSAGE =
  "<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@capulet.example' type='chat' id='plain1'><body>Wherefore art thou, Juliet?</body></message>";

const CALL_MESSAGE =
  "<message xmlns='jabber:client' from='romeo@montague.example/orchard' to='juliet@capulet.example' type='chat' id='call1'><propose xmlns='urn:xmpp:jingle-message:0' id='ca3cf894-5325-482f-a412-a6e9f832298d'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/></propose><store xmlns='urn:xmpp:hints'/></message>";

describe("npm run simulate against npm start (scripts/sandbox.ts)", () => {
  let dir = "";
  let sandbox: RunningSandbox | undefined;
  let gateway = "";
  let page = "";

  beforeAll(async () => {
    sandbox = await startSandbox();
    ({ dir, gateway, page } = sandbox);
  });

  afterAll(async () => {
    const stopped = await sandbox?.stop();
    expect(stopped?.leakedGateway, "the sandbox left its gateway running").not.toBe(true);
  });

  async function messageFile(name: string, stanza: string): Promise<string> {
    const path = join(dir, `${name}.xml`);
    await writeFile(path, stanza);
    return path;
  }

  it.each(vectors)("the device opens what the server extracted from $name (APNs)", async (vector) => {
    const token = randomBytes(32).toString("hex");
    // biome-ignore format: one flag and its value per line
    const report = reportOf(await simulate([
      "--json",
      "--gateway", gateway,
      "--page", page,
      "--account", vector.recipient,
      "--device-token", token,
      "--device-id", vector.deviceId,
      "--unread", String(vector.unread),
      "--message", await messageFile(vector.name, vector.messageStanza),
    ]));
    const stanza = parseXml(vector.messageStanza);
    if (!stanza.ok) throw new Error(`vector ${vector.name} is not XML`);
    const expected = asJson(
      extractOmemoForDevice(stanza.value, { deviceId: vector.deviceId, recipient: vector.recipient }),
    );
    expect(expected).toEqual(vector.expectedOmemo ?? undefined);

    expect(report.ok).toBe(true);
    expect(report.register).toMatchObject({
      provider: "apns",
      deviceToken: token,
      account: `${vector.recipient}/simulator`,
    });
    expect(report.register.maxPayloadSize).toBeGreaterThan(1000);
    expect(report.enable.xml).toContain(`<omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='${vector.deviceId}'/>`);
    expect(report.enable.parsed).toMatchObject({
      algorithm: "aes-128-gcm",
      maxSize: report.register.maxPayloadSize,
      omemoDeviceId: vector.deviceId,
    });
    expect(report.seal.json).toBe(vector.plaintext);
    expect(report.publish.reply).toMatch(/^<iq type='result'/);

    const { push, opened } = report.device;
    expect(push).toMatchObject({ provider: "apns", environment: "production", token, delivered: true, status: 200 });
    expect(push.payload.encrypted).toBe(report.seal.sealed.encrypted);
    expect(push.payload.iv).toBe(report.seal.sealed.iv);
    // Vectors version 2: an OMEMO element without payload (key transport) has no message any more, so
    // the placeholder is no longer expected of every vector: the vector's own plaintext says.
    const { omemo: _omemo, ...summary } = JSON.parse(vector.plaintext);
    expect(opened).toMatchObject(summary);
    expect(opened.message).toBe(summary.message);
    expect(opened.omemo).toEqual(expected);
    expect(push.decryption.state).toBe("opened");
    expect(push.decryption.plaintext.omemo).toEqual(expected);
    // Vectors version 2: the key transport vector is published with <priority>low</priority>, so the
    // gateway sends it as a background push, no longer as an alert.
    const pushType = vector.expectedPriority === "low" ? "background" : "alert";
    await waitForOutput((sandbox as RunningSandbox).process, `200 ${pushType} token=${token.slice(0, 8)}…`, 5_000);
  });

  it("the device opens a plain message (FCM): the body as message, no omemo object", async () => {
    // biome-ignore format: one flag and its value per line
    const report = reportOf(await simulate([
      "--json",
      "--gateway", gateway,
      "--page", page,
      "--provider", "fcm",
      "--message", await messageFile("plain", PLAIN_MESSAGE),
    ]));
    const { push, opened } = report.device;
    expect(push).toMatchObject({ provider: "fcm", environment: "sandbox-project", pushType: "data", delivered: true });
    expect(push.priority).toBe("high");
    expect(push.payload.message.data.encrypted).toBe(report.seal.sealed.encrypted);
    expect(push.payload.message.data.account).toBe("juliet@capulet.example");
    expect(opened).toEqual({
      unread: 1,
      sender: "romeo@montague.example",
      type: "chat",
      message: "Wherefore art thou, Juliet?",
    });
    expect(report.enable.deviceIdSource).toBe("random");
  });

  it("the device opens a call (Jingle propose): type='voip' on the publish, an alert push without a VoIP token", async () => {
    // biome-ignore format: one flag and its value per line
    const report = reportOf(await simulate([
      "--json",
      "--gateway", gateway,
      "--page", page,
      "--message", await messageFile("call", CALL_MESSAGE),
    ]));
    expect(report.seal.voip).toBe(true);
    expect(report.publish.request).toContain("<encrypted xmlns='tigase:push:encrypt:0' type='voip' iv='");
    expect(report.device.push).toMatchObject({ pushType: "alert", priority: "10", delivered: true });
    expect(report.device.opened).toEqual({
      unread: 1,
      sender: "romeo@montague.example/orchard",
      type: "call",
      sid: "ca3cf894-5325-482f-a412-a6e9f832298d",
      media: ["audio", "video"],
    });
  });

  it("prints a readable report of the built-in OMEMO example", async () => {
    const run = await simulate(["--gateway", gateway, "--page", page]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("<enable xmlns='urn:xmpp:push:0' jid='push.localhost' node='");
    expect(run.stdout).toContain("OMEMO device 1325 (the message's first key for this account)");
    expect(run.stdout).toMatch(/sender +romeo@montague\.example/);
    expect(run.stdout).toMatch(/omemo\.sid +27183/);
    expect(run.stdout).toContain("simulate: ok, the device received and opened the push");
  });

  it("fails with exit code 1 and names the step when the gateway does not answer", async () => {
    const [closed = 0] = await freePorts(1);
    const run = await simulate(["--json", "--gateway", `http://127.0.0.1:${closed}`, "--page", page]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("simulate: failed at reaching the gateway");
    expect(run.stderr).toContain("is npm start running?");
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, step: "gateway" });
  });

  it("fails with exit code 2 on a bad flag", async () => {
    const run = await simulate(["--provider", "carrier-pigeon"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--provider must be apns or fcm");
  });
});
