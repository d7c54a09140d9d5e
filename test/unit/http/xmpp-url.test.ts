import { describe, expect, it } from "vitest";
import { isXmppUrl } from "../../../src/http/xmpp";

describe("isXmppUrl", () => {
  it.each([
    ["https://push.example.net/xmpp", true],
    ["http://127.0.0.1:8787/xmpp", true],
    ["https://push.example.net/xmpp?x=1", false],
    ["https://push.example.net/xmpp/", false],
    ["https://push.example.net/v1/xmpp", false],
    ["https://push.example.net/xmppx", false],
    ["https://push.example.net/", false],
    ["https://push.example.net", false],
    ["https://xmpp", false],
    ["/xmpp", false],
  ])("%s → %s", (url, expected) => {
    expect(isXmppUrl(url)).toBe(expected);
  });
});
