import { describe, expect, it } from "vitest";
import {
  classifyFcmError,
  FCM_ERROR_CODES,
  type FcmErrorCode,
  GOOGLE_RPC_STATUSES,
  type GoogleRpcStatus,
} from "../../../../src/providers/fcm/error-codes";
import { fixtureNames, readFixture } from "../provider-test-kit";

const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

function errorBody(error: Record<string, unknown>): string {
  return JSON.stringify({ error });
}

const codes = Object.entries(FCM_ERROR_CODES) as [FcmErrorCode, (typeof FCM_ERROR_CODES)[FcmErrorCode]][];

describe("FCM_ERROR_CODES", () => {
  it("covers every code of Google's ErrorCode reference", () => {
    const reference: { errorCode: string }[] = JSON.parse(readFixture("fcm/fcm-v1-error-codes.json")).codes;
    expect(codes.map(([code]) => code).sort()).toEqual(reference.map((row) => row.errorCode).sort());
  });

  it.each(codes.filter(([, rule]) => rule.disposition === "token-dead"))(
    "says why %s kills a token and links Google's doc",
    (_code, rule) => {
      expect(rule.why.length).toBeGreaterThan(10);
      expect("see" in rule && rule.see).toMatch(/^https:\/\/firebase\.google\.com\//);
    },
  );

  it.each(codes)("classifies an FcmError %s by its table entry, whatever the HTTP status", (code, rule) => {
    const body = errorBody({ code: 400, status: "SOMETHING", details: [{ "@type": FCM_ERROR, errorCode: code }] });
    expect(classifyFcmError(rule.http ?? 400, body)).toMatchObject({ disposition: rule.disposition, code });
    expect(classifyFcmError(418, body).disposition).toBe(rule.disposition);
  });

  it.each(Object.entries(GOOGLE_RPC_STATUSES) as [GoogleRpcStatus, { disposition: string }][])(
    "falls back on error.status %s without an FcmError detail",
    (status, rule) => {
      expect(classifyFcmError(418, errorBody({ status })).disposition).toBe(rule.disposition);
    },
  );
});

describe("classifyFcmError", () => {
  it("takes SENDER_ID_MISMATCH at 403 for a dead token, not a misconfiguration", () => {
    const body = errorBody({
      code: 403,
      status: "PERMISSION_DENIED",
      details: [{ "@type": FCM_ERROR, errorCode: "SENDER_ID_MISMATCH" }],
    });
    expect(classifyFcmError(403, body).disposition).toBe("token-dead");
  });

  it("takes INVALID_ARGUMENT with a BadRequest detail for a bad message", () => {
    const body = errorBody({
      status: "INVALID_ARGUMENT",
      details: [
        { "@type": FCM_ERROR, errorCode: "INVALID_ARGUMENT" },
        { "@type": BAD_REQUEST, fieldViolations: [{ field: "message.data", description: "bad" }] },
      ],
    });
    expect(classifyFcmError(400, body).disposition).toBe("rejected");
  });

  it.each([
    ["in the message", { status: "INVALID_ARGUMENT", message: "Android message is too big" }],
    [
      "in a field violation",
      {
        status: "INVALID_ARGUMENT",
        message: "Request contains an invalid argument.",
        details: [
          { "@type": FCM_ERROR, errorCode: "INVALID_ARGUMENT" },
          { "@type": BAD_REQUEST, fieldViolations: [{ field: "message", description: "Message is too big" }] },
        ],
      },
    ],
    [
      "with only an FcmError detail",
      {
        status: "INVALID_ARGUMENT",
        message: "Message too big",
        details: [{ "@type": FCM_ERROR, errorCode: "INVALID_ARGUMENT" }],
      },
    ],
  ])("takes a message said to be too big %s as a payload refusal", (_where, error) => {
    expect(classifyFcmError(400, errorBody(error)).disposition).toBe("payload-rejected");
  });

  it.each([
    [413, "payload-rejected"],
    [429, "retry-later"],
    [500, "retry-later"],
    [503, "retry-later"],
    [401, "misconfigured"],
    [403, "misconfigured"],
    [404, "rejected"],
    [400, "rejected"],
  ] as const)("falls back on HTTP %i when the body says nothing", (status, disposition) => {
    expect(classifyFcmError(status, "")).toEqual({ disposition, code: `HTTP ${status}` });
    expect(classifyFcmError(status, "<html>bad gateway</html>").disposition).toBe(disposition);
  });

  it("takes an unknown FcmError code by the status, then the HTTP status", () => {
    const body = errorBody({ status: "UNAVAILABLE", details: [{ "@type": FCM_ERROR, errorCode: "NEW_CODE" }] });
    expect(classifyFcmError(400, body).disposition).toBe("retry-later");
    const bare = errorBody({ details: [{ "@type": FCM_ERROR, errorCode: "NEW_CODE" }] });
    expect(classifyFcmError(400, bare)).toEqual({ disposition: "rejected", code: "NEW_CODE" });
  });

  const expected: Record<string, string> = {
    "fcm-v1-400-invalid-registration-token.docs.json": "token-dead",
    "fcm-v1-400-invalid-value.docs.json": "rejected",
    "fcm-v1-404-unregistered.observed.json": "token-dead",
  };
  const files = fixtureNames("fcm").filter((name) => /^fcm-v1-\d{3}-/.test(name));

  it("has an expectation for every fixture body", () => {
    expect(files).toEqual(Object.keys(expected).sort());
  });

  it.each(files)("classifies %s as docs/protocol.md section 5 says", (file) => {
    expect(classifyFcmError(Number(file.slice(7, 10)), readFixture(`fcm/${file}`)).disposition).toBe(expected[file]);
  });
});
