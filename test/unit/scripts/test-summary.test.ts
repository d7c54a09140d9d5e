import { describe, expect, it } from "vitest";
import type { JsonAssertionResult, JsonTestResult, JsonTestResults } from "vitest/reporters";
import { conclude, summarize } from "../../../scripts/test-summary.mjs";

// Reports shaped like what vitest 4.1's JSON reporter wrote for small throw-away fixture files (a
// passing test, `it.skip`, `it.todo`, a failing `expect`, a missing import, a top-level and a
// describe-level `beforeAll` that throws, an `afterAll` that throws, a `describe` skipped by a condition), typed
// with vitest's own report types so that a change of shape shows up in the type-check.

type Status = JsonAssertionResult["status"];

function test(fullName: string, status: Status): JsonAssertionResult {
  const ran = status === "passed" || status === "failed";
  return {
    ancestorTitles: [],
    fullName,
    status,
    title: fullName,
    ...(ran ? { duration: 1.5 } : {}),
    failureMessages: status === "failed" ? ["AssertionError: expected 1 to be 2 // Object.is equality"] : [],
    meta: {},
    tags: [],
  };
}

function file(
  name: string,
  status: JsonTestResult["status"],
  tests: JsonAssertionResult[],
  message = "",
): JsonTestResult {
  return { assertionResults: tests, startTime: 1, endTime: 2, status, message, name: `/repo/test/${name}` };
}

/** The whole report, with vitest's own totals (which count a test skipped by a failed hook as pending). */
function report(...files: JsonTestResult[]): JsonTestResults {
  const tests = files.flatMap((one) => one.assertionResults);
  const count = (...statuses: Status[]) => tests.filter((one) => statuses.includes(one.status)).length;
  return {
    numTotalTestSuites: files.length,
    numPassedTestSuites: files.filter((one) => one.status === "passed").length,
    numFailedTestSuites: files.filter((one) => one.status === "failed").length,
    numPendingTestSuites: 0,
    numTotalTests: tests.length,
    numPassedTests: count("passed"),
    numFailedTests: count("failed"),
    numPendingTests: count("skipped", "pending"),
    numTodoTests: count("todo"),
    snapshot: {
      added: 0,
      failure: false,
      filesAdded: 0,
      filesRemoved: 0,
      filesRemovedList: [],
      filesUnmatched: 0,
      filesUpdated: 0,
      matched: 0,
      total: 0,
      unchecked: 0,
      uncheckedKeysByFile: [],
      unmatched: 0,
      updated: 0,
      didUpdate: false,
    },
    startTime: 1,
    success: files.every((one) => one.status === "passed"),
    testResults: files,
  };
}

const passing = file("unit/a.test.ts", "passed", [test("parses", "passed"), test("encodes", "passed")]);

describe("summarize", () => {
  it("counts a run where everything passes", () => {
    const summary = summarize(report(passing, file("app/b.test.ts", "passed", [test("answers", "passed")])));
    expect(summary).toEqual({ passed: 3, failed: 0, skipped: 0 });
    expect(conclude(summary, 0)).toEqual({ line: "tests: 3 passed, 0 failed", exitCode: 0 });
  });

  it("counts one failed test", () => {
    const failing = file("unit/c.test.ts", "failed", [test("fails", "failed"), test("passes too", "passed")]);
    const summary = summarize(report(passing, failing));
    expect(summary).toEqual({ passed: 3, failed: 1, skipped: 0 });
    expect(conclude(summary, 1)).toEqual({ line: "tests: 3 passed, 1 failed", exitCode: 1 });
  });

  it("counts a file that failed to load, which has no assertion results, as one failure", () => {
    const broken = file(
      "unit/load.test.ts",
      "failed",
      [],
      "Cannot find module './does-not-exist.mjs' imported from /repo/test/unit/load.test.ts",
    );
    expect(summarize(report(passing, broken))).toEqual({ passed: 2, failed: 1, skipped: 0 });
    // A test file without tests is reported the same way ("No test suite found in file ...").
    const empty = file("unit/empty.test.ts", "failed", [], "No test suite found in file /repo/test/unit/empty.test.ts");
    expect(summarize(report(empty))).toEqual({ passed: 0, failed: 1, skipped: 0 });
  });

  it("counts the tests of a file whose beforeAll failed as failed, not skipped", () => {
    // What vitest reports: every test "skipped", the file "failed" with the hook's error as its message.
    const noServer = file(
      "e2e/prosody.test.ts",
      "failed",
      [test("registers", "skipped"), test("inner publishes", "skipped"), test("inner retries", "skipped")],
      "prosody not ready in time",
    );
    const summary = summarize(report(passing, noServer));
    expect(summary).toEqual({ passed: 2, failed: 3, skipped: 0 });
    expect(conclude(summary, 1)).toEqual({ line: "tests: 2 passed, 3 failed", exitCode: 1 });
  });

  it("counts the tests a describe-level beforeAll stopped as failed, though the file's message is empty", () => {
    // beforeAll inside describe("d"): its test is "skipped", the test outside it passed, no file message.
    const partly = file("e2e/d.test.ts", "failed", [test("d x", "skipped"), test("outside", "passed")]);
    expect(summarize(report(partly))).toEqual({ passed: 1, failed: 1, skipped: 0 });
  });

  it("counts a file whose afterAll failed, after its tests passed, as one failure", () => {
    const teardown = file("e2e/after.test.ts", "failed", [test("ok", "passed")], "teardown broke");
    expect(summarize(report(teardown))).toEqual({ passed: 1, failed: 1, skipped: 0 });
  });

  it("counts tests skipped on purpose (skip and todo on a test, a describe skipped by a condition) as skipped", () => {
    const skipping = file("unit/skip.test.ts", "passed", [
      test("passes", "passed"),
      test("skipped", "skipped"),
      test("todo later", "todo"),
    ]);
    const withoutProsody = file("e2e/needs-prosody.test.ts", "passed", [
      test("needs prosody a", "skipped"),
      test("needs prosody b", "skipped"),
    ]);
    const summary = summarize(report(passing, skipping, withoutProsody));
    expect(summary).toEqual({ passed: 3, failed: 0, skipped: 4 });
    expect(conclude(summary, 0)).toEqual({ line: "tests: 3 passed, 0 failed, 4 skipped", exitCode: 0 });
  });

  it("keeps a skipped test skipped in a file that failed because of a failed test", () => {
    const mixed = file("unit/mixed.test.ts", "failed", [test("bad", "failed"), test("genuinely skipped", "skipped")]);
    expect(summarize(report(mixed))).toEqual({ passed: 0, failed: 1, skipped: 1 });
  });

  it("counts a missing report as a failure", () => {
    expect(summarize(undefined)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(summarize(null)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(summarize({})).toEqual({ passed: 0, failed: 1, skipped: 0 });
  });
});

describe("conclude", () => {
  it("fails a run in which no test ran", () => {
    expect(conclude(summarize(report()), 0)).toEqual({ line: "tests: 0 passed, 0 failed", exitCode: 1 });
    const allSkipped = file("e2e/s.test.ts", "passed", [test("a", "skipped")]);
    expect(conclude(summarize(report(allSkipped)), 0)).toEqual({
      line: "tests: 0 passed, 0 failed, 1 skipped",
      exitCode: 1,
    });
  });

  it("counts a vitest failure outside any test (an unhandled error, a signal) as one failed", () => {
    expect(conclude({ passed: 5, failed: 0, skipped: 0 }, 1)).toEqual({
      line: "tests: 5 passed, 1 failed",
      exitCode: 1,
    });
    expect(conclude({ passed: 5, failed: 0, skipped: 0 }, null)).toEqual({
      line: "tests: 5 passed, 1 failed",
      exitCode: 1,
    });
  });
});
