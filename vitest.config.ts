import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// One project per test tier (docs/architecture.md section 5), so that `vitest run --project unit` (npm run test:unit,
// :app, :workers, :e2e) runs one tier; `npm test` runs all four in one vitest run and one JSON report.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
          // Pure modules, but some start local TLS servers, child processes or a fast-check property.
          testTimeout: 15_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "app",
          environment: "node",
          include: ["test/app/**/*.test.ts"],
          // In process with the memory store; the fuzz test runs many iterations.
          testTimeout: 15_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, main: "./src/runtime/worker.ts" })],
        test: {
          name: "workers",
          include: ["test/worker/**/*.test.ts"],
          // Inside workerd; starting its runtime for the first file takes a few seconds.
          testTimeout: 15_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          // Real processes: wrangler dev, Prosody, ejabberd and Chromium take seconds to start and stop.
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
