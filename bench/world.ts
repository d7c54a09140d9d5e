/**
 * What the benchmarks share: a temporary folder with a local certificate (the sink's), an APNs signing key,
 * and the gateway's environment pointed at the sink (bench/run.ts, bench/profile-publish.ts).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApnsSigningKey } from "../test/fakes/apns-key";
import { createLocalCertificate } from "../test/fakes/certificate";
import { createServiceAccount } from "../test/fakes/service-account";
import { GATEWAY_TOKEN, PUSH_JID } from "./publish-bench";
import type { SenderRun } from "./sender-client";

export interface World {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  readonly apns: SenderRun["apns"];
  readonly apnsPem: string;
}

export async function makeWorld(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "push-bench-"));
  const certificate = await createLocalCertificate(dir);
  const key = createApnsSigningKey();
  return {
    dir,
    certPath: certificate.certPath,
    keyPath: certificate.keyPath,
    cert: certificate.cert,
    apns: { teamId: key.teamId, keyId: key.keyId, pem: key.pem, topic: "im.example.bench" },
    apnsPem: key.pem,
  };
}

export function gatewayEnv(world: World, sinkOrigin: string): Record<string, string> {
  const serviceAccount = createServiceAccount({ tokenUri: `${sinkOrigin}/token`, projectId: "bench-project" });
  return {
    PUSH_JID,
    GATEWAY_TOKEN,
    SERVER_KEY: "bench-server-key-0123456789abcdef0123456789",
    APNS_TEAM_ID: world.apns.teamId,
    APNS_KEY_ID: world.apns.keyId,
    APNS_PRIVATE_KEY: world.apnsPem,
    APNS_TOPIC: world.apns.topic,
    APNS_ENDPOINT: sinkOrigin,
    APNS_SANDBOX_ENDPOINT: sinkOrigin,
    FCM_SERVICE_ACCOUNT: serviceAccount.text,
    FCM_ENDPOINT: sinkOrigin,
  };
}
