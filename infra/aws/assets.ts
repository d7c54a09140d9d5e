import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The gateway's Lambda bundle, `index.mjs`, as `npm run build:lambda` writes it. */
export const GATEWAY_CODE = join(REPO_ROOT, "dist/lambda");
/** The platform-applications handler's bundle, `index.mjs`, as {@link buildPlatformApplicationsCode} writes it. */
export const PLATFORM_APPLICATIONS_CODE = join(REPO_ROOT, "dist/infra/platform-applications");
/** Where `npm run synth` writes the cloud assembly (templates and assets). */
export const CLOUD_ASSEMBLY = join(REPO_ROOT, "dist/cdk.out");

/**
 * Bundles infra/aws/platform-applications/handler.ts with the AWS SDK clients it uses into
 * `{outdir}/index.mjs` (handler `index.handler`): the same esbuild settings as `npm run build:lambda`.
 */
export async function buildPlatformApplicationsCode(outdir: string = PLATFORM_APPLICATIONS_CODE): Promise<string> {
  await build({
    entryPoints: [join(REPO_ROOT, "infra/aws/platform-applications/handler.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: join(outdir, "index.mjs"),
    logLevel: "warning",
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outdir;
}

/** Fails with what to run when a bundle the stacks deploy is not there. */
export function requireBundle(dir: string, how: string): string {
  if (!existsSync(join(dir, "index.mjs"))) throw new Error(`${join(dir, "index.mjs")} is missing: ${how}`);
  return dir;
}
