import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { REPO_ROOT } from "../../../infra/aws/assets";
import { DEPLOYMENT_SECRET_NAMES } from "../../../infra/secrets";

/** The environments of wrangler.toml: the top level (local development) and each `[env.X]`. */
const ENVIRONMENTS = ["default", "staging", "production", "sns"] as const;
/** Those that are deployed (the top level is local development only). */
const DEPLOYED = ["staging", "production", "sns"] as const;

interface DryRun {
  readonly code: number | null;
  readonly output: string;
  readonly outdir: string;
}

let dir: string;
const runs = {} as Record<(typeof ENVIRONMENTS)[number], DryRun>;

/** `./node_modules/.bin/wrangler deploy --dry-run --outdir DIR [--env X]`: bundles offline, uploads nothing. */
function dryRun(environment: (typeof ENVIRONMENTS)[number]): Promise<DryRun> {
  const outdir = join(dir, environment);
  const args = [
    "deploy",
    "--dry-run",
    "--outdir",
    outdir,
    ...(environment === "default" ? [] : ["--env", environment]),
  ];
  return new Promise((resolve) => {
    execFile(
      join(REPO_ROOT, "node_modules/.bin/wrangler"),
      args,
      {
        cwd: REPO_ROOT,
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
        timeout: 60_000,
        killSignal: "SIGKILL",
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : null,
          output: `${stdout}${stderr}`,
          outdir,
        }),
    );
  });
}

function config(environment: (typeof DEPLOYED)[number]) {
  return unstable_readConfig({ config: join(REPO_ROOT, "wrangler.toml"), env: environment }, { hideWarnings: true });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wrangler-dry-run-"));
  const results = await Promise.all(ENVIRONMENTS.map((environment) => dryRun(environment)));
  ENVIRONMENTS.forEach((environment, index) => {
    runs[environment] = results[index] as DryRun;
  });
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("wrangler deploy --dry-run of every environment (Cloudflare as code)", () => {
  it.each(ENVIRONMENTS)("%s: bundles offline with its bindings", (environment) => {
    const run = runs[environment];
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("--dry-run: exiting now.");
    expect(run.output).not.toMatch(/\[ERROR\]/);
    expect(existsSync(join(run.outdir, environment === "sns" ? "worker-sns.js" : "worker.js"))).toBe(true);
    expect(run.output).toMatch(/env\.REGISTRATION_INDEX \(RegistrationIndex\)\s+Durable Object/);
    expect(run.output).toMatch(/env\.REGISTRATIONS \([0-9a-f]{32}\)\s+KV Namespace/);
    expect(run.output).toMatch(/env\.RATE_LIMITER \(60 requests\/60s\)\s+Rate Limit/);
    expect(run.output).toMatch(/env\.PUSH_JID \("[^"]+"\)\s+Environment Variable/);
  });

  it.each(DEPLOYED)("%s: no secret among its vars (they come with each deploy, infra/secrets.ts)", (environment) => {
    const vars = Object.keys(config(environment).vars);
    for (const name of DEPLOYMENT_SECRET_NAMES) expect(vars, name).not.toContain(name);
    expect(runs[environment].output).not.toMatch(/env\.SERVER_KEY/);
  });

  it("gives each deployed environment its own Worker, KV namespace, rate limiter, Durable Objects, route and vars", () => {
    const local = unstable_readConfig({ config: join(REPO_ROOT, "wrangler.toml") }, { hideWarnings: true });
    const seen = {
      names: new Set<string>(),
      kv: new Set<string>(),
      limiters: new Set<string>(),
      routes: new Set<string>(),
    };
    seen.kv.add(local.kv_namespaces[0]?.id ?? "");
    seen.limiters.add(local.ratelimits[0]?.namespace_id ?? "");
    for (const environment of DEPLOYED) {
      const resolved = config(environment);
      const kv = resolved.kv_namespaces.find((namespace: { binding: string }) => namespace.binding === "REGISTRATIONS");
      const limiter = resolved.ratelimits.find((binding: { name: string }) => binding.name === "RATE_LIMITER");
      expect(resolved.durable_objects.bindings).toEqual([
        { name: "REGISTRATION_INDEX", class_name: "RegistrationIndex" },
      ]);
      for (const [set, value] of [
        [seen.names, resolved.name],
        [seen.kv, kv?.id],
        [seen.limiters, limiter?.namespace_id],
      ] as const) {
        expect(value, environment).toBeDefined();
        expect(set.has(value ?? ""), `${environment}: ${value} is shared`).toBe(false);
        set.add(value ?? "");
      }
      const routes = resolved.routes ?? [];
      expect(routes.length, environment).toBeGreaterThan(0);
      for (const route of routes) {
        expect(route, environment).toMatchObject({ custom_domain: true });
        const pattern = typeof route === "string" ? route : route.pattern;
        expect(seen.routes.has(pattern), `${environment}: route ${pattern} is shared`).toBe(false);
        seen.routes.add(pattern);
      }
      expect(resolved.vars.PUSH_JID, environment).toMatch(/^[a-z0-9.-]+$/);
      expect(resolved.minify, environment).toBe(true);
    }
    expect(config("production").workers_dev).toBe(false);
    expect(config("sns").main).toMatch(/src\/runtime\/worker-sns\.ts$/);
    expect(config("sns").vars.APNS_VIA).toBe("sns");
  });
});
