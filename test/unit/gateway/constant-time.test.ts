import { describe, expect, it } from "vitest";
import { constantTimeEqual } from "../../../src/gateway/tokens";

describe("constantTimeEqual", () => {
  it.each([
    ["same strings", "bridge-token-0123", "bridge-token-0123", true],
    ["one character off", "bridge-token-0123", "bridge-token-0124", false],
    ["a prefix", "bridge-token", "bridge-token-0123", false],
    ["empty against something", "", "x", false],
    ["both empty", "", "", true],
    ["non-ASCII, equal", "clé-ü-🙂", "clé-ü-🙂", true],
    ["non-ASCII, one code unit off", "clé-ü-🙂", "clé-ü-🙃", false],
    ["a NUL against the end", "abc\u0000", "abc", false],
  ])("compares %s", (_name, a, b, equal) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
    expect(constantTimeEqual(b, a)).toBe(equal);
    const bytes = (s: string) => new TextEncoder().encode(s);
    expect(constantTimeEqual(bytes(a), b)).toBe(equal);
    expect(constantTimeEqual(a, bytes(b))).toBe(equal);
    expect(constantTimeEqual(bytes(a), bytes(b))).toBe(equal);
  });
});
