// @ts-check
// Counts vitest's JSON report into the closing line of `npm test`. Pure (no I/O), so that
// test/unit/scripts/test-summary.test.ts can feed it reports shaped like vitest 4's real output.

/**
 * The fields of vitest's JSON report (`--reporter=json`) that the counting reads; vitest's own
 * `JsonTestResults` (from "vitest/reporters") fits this shape.
 * @typedef {{ status: string }} AssertionResult
 * @typedef {{ status: string, message?: string, name: string, assertionResults?: readonly AssertionResult[] }} FileResult
 * @typedef {{ testResults?: readonly FileResult[] }} Report
 * @typedef {{ passed: number, failed: number, skipped: number }} Summary
 */

/** Test statuses that mean "did not run": vitest maps a skipped test to "skipped", todo to "todo", and a test that never settled to "pending". */
const NOT_RUN = new Set(["skipped", "pending", "todo"]);

/**
 * Counts passed, failed and skipped tests, per file, so that a file's failure outside its tests counts.
 *
 * Vitest 4 reports a file whose `beforeAll` threw with every test "skipped", the file "failed" and the
 * error in the file's `message` (a `beforeAll` inside a `describe` leaves `message` empty); a file that
 * failed to load (or has no tests) is "failed" with no assertion results; an `afterAll` that threw leaves
 * the tests "passed" and the file "failed". So in a failed file with no failed test, the tests that did
 * not run count as failed (the failure stopped them), and a failed file with nothing to count counts as
 * one failure. A failed file that does have a failed test keeps its skipped tests as skipped: the report
 * cannot tell a test skipped by a failed `describe`-level hook from an `it.skip` there, and the failed
 * test already fails the run.
 * @param {Report | null | undefined} report the parsed JSON report; missing means vitest wrote none
 * @returns {Summary}
 */
export function summarize(report) {
  const summary = { passed: 0, failed: 0, skipped: 0 };
  /** @type {readonly FileResult[] | undefined} */
  const files = report?.testResults;
  // Checked at run time too: the report is parsed JSON. (Not narrowed with Array.isArray, which would
  // turn a readonly array's elements into `any`.)
  if (files === undefined || typeof files.length !== "number") {
    summary.failed = 1;
    return summary;
  }
  for (const file of files) {
    const tests = file.assertionResults ?? [];
    const passed = tests.filter((test) => test.status === "passed").length;
    const failed = tests.filter((test) => test.status === "failed").length;
    const notRun = tests.filter((test) => NOT_RUN.has(test.status)).length;
    // Anything else (a status a later vitest adds) counts as failed rather than vanishing from the line.
    const unknown = tests.length - passed - failed - notRun;
    summary.passed += passed;
    summary.failed += failed + unknown;
    if (file.status !== "failed" || failed + unknown > 0) summary.skipped += notRun;
    else if (notRun > 0) summary.failed += notRun;
    else summary.failed += 1;
  }
  return summary;
}

/**
 * The closing line and the exit code: failing when a test failed, when none passed (nothing ran), or
 * when vitest itself failed without a failed test to show for it (an unhandled error outside tests).
 * @param {Summary} summary
 * @param {number | null} vitestExitCode null when vitest was killed by a signal
 * @returns {{ line: string, exitCode: number }}
 */
export function conclude(summary, vitestExitCode) {
  const failed = vitestExitCode !== 0 && summary.failed === 0 ? 1 : summary.failed;
  const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped` : "";
  return {
    line: `tests: ${summary.passed} passed, ${failed} failed${skipped}`,
    exitCode: failed > 0 || summary.passed === 0 ? 1 : 0,
  };
}
