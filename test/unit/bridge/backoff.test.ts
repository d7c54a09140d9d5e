import { describe, expect, it } from "vitest";
import { reconnectDelay } from "../../../src/bridge";

const options = { baseMs: 1_000, capMs: 60_000 };

describe("reconnectDelay", () => {
  it("doubles per attempt between half and all of the ceiling", () => {
    expect([0, 1, 2, 3].map((attempt) => reconnectDelay(attempt, options, () => 0))).toEqual([
      500, 1_000, 2_000, 4_000,
    ]);
    expect([0, 1, 2, 3].map((attempt) => reconnectDelay(attempt, options, () => 1))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
  });

  it("is capped, however many attempts failed", () => {
    expect(reconnectDelay(6, options, () => 1)).toBe(60_000);
    expect(reconnectDelay(10_000, options, () => 1)).toBe(60_000);
    expect(reconnectDelay(10_000, options, () => 0)).toBe(30_000);
  });

  it("spreads bridges that fail together", () => {
    const delays = new Set([0.1, 0.4, 0.7, 0.9].map((r) => reconnectDelay(4, options, () => r)));
    expect(delays.size).toBe(4);
  });
});
