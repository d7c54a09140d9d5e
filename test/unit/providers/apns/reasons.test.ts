import { describe, expect, it } from "vitest";
import { APNS_REASONS, type ApnsReason, apnsDisposition } from "../../../../src/providers/apns/reasons";
import { readFixture } from "../provider-test-kit";

interface ReasonRow {
  readonly status: number;
  readonly reason: string;
}

const fixtureRows: ReasonRow[] = JSON.parse(readFixture("apns/apns-error-reasons.json")).errors;
const table = Object.entries(APNS_REASONS) as [ApnsReason, (typeof APNS_REASONS)[ApnsReason]][];

describe("APNS_REASONS", () => {
  it("covers every reason of Apple's table, with the status Apple documents", () => {
    for (const row of fixtureRows)
      expect(APNS_REASONS).toHaveProperty(row.reason, expect.objectContaining({ status: row.status }));
    expect(table.map(([reason]) => reason).sort()).toEqual(fixtureRows.map((row) => row.reason).sort());
  });

  it.each(table.filter(([, rule]) => rule.disposition === "token-dead"))(
    "says why %s kills a token and links Apple's doc",
    (_reason, rule) => {
      expect(rule.why.length).toBeGreaterThan(10);
      expect("see" in rule && rule.see).toMatch(/^https:\/\/developer\.apple\.com\//);
    },
  );

  it("kills the token only for the reasons docs/protocol.md section 5 names", () => {
    const dead = table.filter(([, rule]) => rule.disposition === "token-dead").map(([reason]) => reason);
    expect(dead.sort()).toEqual(["BadDeviceToken", "DeviceTokenNotForTopic", "ExpiredToken", "Unregistered"]);
  });

  it.each([
    ["InvalidProviderToken", "misconfigured"],
    ["BadTopic", "misconfigured"],
    ["TopicDisallowed", "misconfigured"],
    ["ExpiredProviderToken", "misconfigured"],
    ["IdleTimeout", "retry-later"],
    ["TooManyRequests", "retry-later"],
    ["InternalServerError", "retry-later"],
    ["ServiceUnavailable", "retry-later"],
    ["PayloadTooLarge", "payload-rejected"],
    ["BadPriority", "rejected"],
  ] as const)("classifies %s as %s", (reason, disposition) => {
    expect(APNS_REASONS[reason].disposition).toBe(disposition);
  });
});

describe("apnsDisposition", () => {
  it("goes by the reason when Apple gave a known one", () => {
    expect(apnsDisposition(400, "IdleTimeout")).toBe("retry-later");
  });

  it.each([
    [410, "token-dead"],
    [413, "payload-rejected"],
    [429, "retry-later"],
    [500, "retry-later"],
    [502, "retry-later"],
    [503, "retry-later"],
    [400, "rejected"],
    [403, "rejected"],
    [404, "rejected"],
  ] as const)("falls back on the HTTP status %i without a known reason", (status, disposition) => {
    expect(apnsDisposition(status, undefined)).toBe(disposition);
    expect(apnsDisposition(status, "SomethingNew")).toBe(disposition);
  });
});
