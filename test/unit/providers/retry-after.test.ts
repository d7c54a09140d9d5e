import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "../../../src/providers/retry-after";
import { START } from "./provider-test-kit";

describe("parseRetryAfter", () => {
  it("reads delay-seconds as milliseconds", () => {
    expect(parseRetryAfter("120", START)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", START)).toBe(0);
  });

  it("reads an HTTP date relative to now", () => {
    const date = new Date(START + 30_000).toUTCString();
    expect(parseRetryAfter(date, START)).toBe(30_000);
  });

  it("takes a date in the past as no wait", () => {
    expect(parseRetryAfter(new Date(START - 5_000).toUTCString(), START)).toBe(0);
  });

  it.each([null, "", "soon", "-3", "1.5"])("ignores %j", (value) => {
    expect(parseRetryAfter(value, START)).toBeUndefined();
  });
});
