import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, constants, mkdir } from "node:fs/promises";
import { request } from "node:http";
import { resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPushPlaintext, encodeBase64, sealPushNotification } from "../../src/omemo";
import { parseXml } from "../../src/xmpp";
import type { ApnsReceipt } from "../fakes/apns-server";
import { DevicePage } from "../fakes/device-page";
import { assertPortFree, REPO_ROOT, typescriptEntry } from "./processes";
import { type RunningSandbox, startSandbox } from "./sandbox";

/** Debian's Chromium (`.ci/install-debian.sh`); playwright-core drives it over CDP. */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOT = resolve(REPO_ROOT, "reports/device-page.png");

async function launchChromium(): Promise<Browser> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with .ci/install-debian.sh (apt-get install chromium); this test needs a browser and does not skip`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
}

function simulate(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.GATEWAY_TOKEN;
  return new Promise((done) => {
    execFile(
      process.execPath,
      typescriptEntry("src/cli/simulate.ts", args),
      { cwd: REPO_ROOT, env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
      },
    );
  });
}

describe("the live device page of npm start, in headless Chromium", () => {
  let sandbox: RunningSandbox | undefined;
  let browser: Browser | undefined;
  let browserError: unknown;
  let gateway = "";
  let pageUrl = "";

  beforeAll(async () => {
    // A missing browser fails each test below with the reason; it never turns into a skip.
    browser = await launchChromium().catch((error: unknown) => {
      browserError = error;
      return undefined;
    });
    sandbox = await startSandbox();
    gateway = sandbox.gateway;
    pageUrl = sandbox.page;
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    const stopped = await sandbox?.stop();
    expect(stopped?.leakedGateway, "the sandbox left its gateway running").not.toBe(true);
  });

  async function openPage(): Promise<Page> {
    if (!browser) throw browserError instanceof Error ? browserError : new Error(String(browserError));
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(pageUrl);
    return page;
  }

  it("shows the push of a simulator run, decrypted: sender and OMEMO sid (screenshot in reports/)", async () => {
    const page = await openPage();
    expect(await page.title()).toContain("Sandbox device");
    expect(await page.locator("#sandbox-note").textContent()).toContain("Development sandbox");
    await page.locator("#pushes .empty").waitFor({ timeout: 5_000 });

    const token = randomBytes(32).toString("hex");
    const run = simulate(["--json", "--gateway", gateway, "--page", pageUrl, "--device-token", token]);
    const card = page.locator(`article.push[data-token-prefix="${token.slice(0, 8)}…"][data-state="opened"]`);
    await card.waitFor({ timeout: 15_000 });
    const result = await run;
    expect(result.code, result.stderr).toBe(0);

    const text = await card.textContent();
    expect(text).toContain("romeo@montague.example");
    expect(text).toContain("Decrypted (AES-128-GCM, tag verified)");
    expect(await card.locator('[data-field="sender"]').textContent()).toBe("romeo@montague.example");
    expect(await card.locator('[data-field="omemo-sid"]').textContent()).toBe("27183");
    expect(await card.locator('[data-field="message"]').textContent()).toBe("New secure message");
    expect(text).toContain("production");
    expect(text).toContain("alert · priority 10");

    await mkdir(resolve(REPO_ROOT, "reports"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await access(SCREENSHOT);
    await page.close();
  });

  it("shows an error row when the key it was given does not open the push", async () => {
    const page = await openPage();
    const token = randomBytes(32).toString("hex");
    const result = await simulate(["--json", "--gateway", gateway, "--page", pageUrl, "--device-token", token]);
    expect(result.code, result.stderr).toBe(0);
    const wrongKey = await fetch(`${pageUrl}/api/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, key: encodeBase64(randomBytes(16)) }),
    });
    expect(wrongKey.status).toBe(200);
    const card = page.locator(`article.push[data-token-prefix="${token.slice(0, 8)}…"][data-state="failed"]`);
    await card.waitFor({ timeout: 5_000 });
    expect(await card.locator('[role="alert"]').textContent()).toContain("tag-mismatch");
    await page.close();
  });
});

function receipt(token: string, body: unknown, at: number): ApnsReceipt {
  return {
    environment: "production",
    token,
    method: "POST",
    path: `/3/device/${token}`,
    headers: { "apns-push-type": "alert", "apns-priority": "10", "apns-topic": "im.example.sandbox" },
    rawBody: JSON.stringify(body),
    body,
    httpVersion: "2.0",
    connection: "h2-1",
    status: 200,
    apnsId: "00000000-0000-0000-0000-000000000000",
    at,
  };
}

function rawRequest(
  port: number,
  options: { method: string; path: string; host: string; type?: string; body?: string },
) {
  return new Promise<{ status: number; body: string }>((done, fail) => {
    const outgoing = request(
      {
        host: "127.0.0.1",
        port,
        method: options.method,
        path: options.path,
        headers: { host: options.host, ...(options.type ? { "content-type": options.type } : {}) },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => done({ status: response.statusCode ?? 0, body }));
      },
    );
    outgoing.on("error", fail);
    outgoing.end(options.body);
  });
}

describe("the device page's API (DevicePage in process)", () => {
  const received: ApnsReceipt[] = [];
  const token = "ab".repeat(32);
  const key = randomBytes(16);
  let devicePage: DevicePage | undefined;

  beforeAll(async () => {
    const stanza = parseXml("<message from='nurse@capulet.example/kitchen' type='chat'><body>Madam!</body></message>");
    if (!stanza.ok) throw new Error("bad stanza");
    const plaintext = buildPushPlaintext(stanza.value, { unread: 2 });
    if (!plaintext.ok) throw new Error("no plaintext");
    const sealed = await sealPushNotification(plaintext.value, key);
    if (!sealed.ok) throw new Error("not sealed");
    const { iv, encrypted } = sealed.value;
    received.push(receipt(token, { aps: { "content-available": 1 }, account: "juliet@capulet.example" }, 1_000));
    received.push(
      receipt(token, { aps: { "mutable-content": 1 }, account: "juliet@capulet.example", iv, encrypted }, 2_000),
    );
    devicePage = await DevicePage.start({ source: { apns: { received }, fcm: { received: [] } }, port: 0 });
  });

  afterAll(async () => {
    const port = devicePage?.port;
    await devicePage?.close();
    if (port !== undefined) await assertPortFree(port);
  });

  function url(path: string): string {
    return `${devicePage?.url ?? ""}${path}`;
  }

  it("lists pushes newest first, encrypted ones waiting for a key", async () => {
    const body = await (await fetch(url("/api/pushes"))).json();
    expect(body.sandbox).toBe(true);
    expect(body.pushes.map((push: { id: string }) => push.id)).toEqual(["apns-2", "apns-1"]);
    expect(body.pushes[0]).toMatchObject({
      provider: "apns",
      tokenPrefix: "abababab…",
      decryption: { state: "no-key" },
    });
    expect(body.pushes[1].decryption).toEqual({ state: "not-encrypted" });
  });

  it("opens a push with the key it is given, and never answers the key back", async () => {
    const stored = await fetch(url("/api/keys"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, key: encodeBase64(key) }),
    });
    expect(stored.status).toBe(200);
    const text = await (await fetch(url(`/api/pushes?token=${token}`))).text();
    expect(text).not.toContain(encodeBase64(key));
    const [newest] = JSON.parse(text).pushes;
    expect(newest.decryption).toEqual({
      state: "opened",
      plaintext: { unread: 2, sender: "nurse@capulet.example", type: "chat", message: "Madam!" },
    });
    const other = await (await fetch(url("/api/pushes?token=cd"))).json();
    expect(other.pushes).toEqual([]);
  });

  it("refuses keys that are not 16 bytes, bodies that are not JSON, and foreign Host names", async () => {
    const port = devicePage?.port ?? 0;
    const host = `127.0.0.1:${port}`;
    const short = JSON.stringify({ token, key: encodeBase64(randomBytes(15)) });
    expect(
      (await rawRequest(port, { method: "POST", path: "/api/keys", host, type: "application/json", body: short }))
        .status,
    ).toBe(400);
    expect(
      (await rawRequest(port, { method: "POST", path: "/api/keys", host, type: "text/plain", body: short })).status,
    ).toBe(415);
    expect((await rawRequest(port, { method: "GET", path: "/api/pushes", host: "evil.example:80" })).status).toBe(403);
    expect((await rawRequest(port, { method: "GET", path: "/", host: `localhost:${port}` })).status).toBe(200);
    expect((await rawRequest(port, { method: "GET", path: "/nothing", host })).status).toBe(404);
  });
});
