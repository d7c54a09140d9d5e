/**
 * Profiles one sender of bench/sender-client.ts against the sink: `node --import tsx bench/profile-sender.ts
 * VARIANT [NOTIFICATIONS] [DIR]` runs the client under `node --cpu-prof` (default 30,000 notifications, 100 in
 * flight) and prints bench/profile-summary.ts's tables of the main thread's profile (written to DIR, default
 * a temporary folder). The explanations in bench/RESULTS.md come from these.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApnsSigningKey } from "../test/fakes/apns-key";
import { createLocalCertificate } from "../test/fakes/certificate";
import { createServiceAccount } from "../test/fakes/service-account";
import { REPO_ROOT, startSink } from "./lib";
import { summariseProfile } from "./profile-summary";
import type { SenderRun, SenderVariant } from "./sender-client";

async function main(): Promise<void> {
  const variant = (process.argv[2] ?? "gateway-apns") as SenderVariant;
  const total = Number(process.argv[3] ?? 30_000);
  const work = mkdtempSync(join(tmpdir(), "profile-sender-"));
  const out = process.argv[4] ?? join(work, "profiles");
  const certificate = await createLocalCertificate(work);
  const sink = await startSink(certificate.certPath, certificate.keyPath);
  try {
    const key = createApnsSigningKey();
    const run: SenderRun = {
      variant,
      origin: sink.origin,
      ca: certificate.cert,
      apns: { teamId: key.teamId, keyId: key.keyId, pem: key.pem, topic: "im.example.bench" },
      serviceAccount: createServiceAccount({ tokenUri: `${sink.origin}/token`, projectId: "bench-project" }).text,
      warmUp: 500,
      total,
      inFlight: 100,
    };
    const ran = spawnSync(
      process.execPath,
      ["--cpu-prof", "--cpu-prof-dir", out, "--import", "tsx", "bench/sender-client.ts", JSON.stringify(run)],
      { cwd: REPO_ROOT, encoding: "utf8" },
    );
    if (ran.status !== 0) throw new Error(ran.stderr);
    console.log(ran.stdout.trim());
    // The main thread's profile is the first one Node writes (the others are the loader's threads).
    const main = readdirSync(out)
      .filter((name) => name.endsWith(".cpuprofile"))
      .sort()[0];
    if (main === undefined) throw new Error("no profile written");
    console.log(summariseProfile(join(out, main), 30));
  } finally {
    await sink.stop();
    if (process.argv[4] === undefined) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
