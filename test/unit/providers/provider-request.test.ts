import { afterEach, describe, expect, it, vi } from "vitest";
import type { HttpTransport } from "../../../src/ports/transport";
import { requestWithDeadline } from "../../../src/providers/provider-request";
import { FakeTransport } from "../../fakes/transport";

const init = { method: "POST", headers: {}, body: "{}" };

describe("requestWithDeadline", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("returns the status and the body", async () => {
    const transport = new FakeTransport().reply("https://x.test", { status: 200, body: "ok" });
    const result = await requestWithDeadline(transport.fetch, "https://x.test/a", init, 1000);
    expect(result.ok && result.response.status).toBe(200);
    expect(result.ok && result.response.body).toBe("ok");
  });

  it("passes an abort signal to the transport", async () => {
    const transport = new FakeTransport().reply("https://x.test", { status: 200 });
    await requestWithDeadline(transport.fetch, "https://x.test/a", init, 1000);
    expect(transport.requests[0]?.signal).toBeInstanceOf(AbortSignal);
  });

  it("answers retry-later when the provider does not answer in the time left", async () => {
    const transport = new FakeTransport().reply("https://x.test", { hang: true });
    const started = Date.now();
    const result = await requestWithDeadline(transport.fetch, "https://x.test/a", init, 30);
    expect(result).toEqual({ ok: false, outcome: { kind: "retry-later", reason: "no answer within 30 ms" } });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(transport.requests[0]?.signal?.aborted).toBe(true);
  });

  it("yields at the deadline even when the transport ignores the signal", async () => {
    const deaf: HttpTransport = () => new Promise(() => undefined);
    const result = await requestWithDeadline(deaf, "https://x.test/a", init, 20);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.outcome.kind).toBe("retry-later");
  });

  it("answers retry-later on a network error", async () => {
    const transport = new FakeTransport().reply("https://x.test", { networkError: "connection reset" });
    const result = await requestWithDeadline(transport.fetch, "https://x.test/a", init, 1000);
    expect(result).toEqual({ ok: false, outcome: { kind: "retry-later", reason: "network error: connection reset" } });
  });

  it("waits at most ten seconds, however much time the budget has", async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport().reply("https://x.test", { hang: true });
    const pending = requestWithDeadline(transport.fetch, "https://x.test/a", init, 60_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await pending).toEqual({ ok: false, outcome: { kind: "retry-later", reason: "no answer within 10000 ms" } });
  });

  it("clears its timer once answered", async () => {
    vi.useFakeTimers();
    const transport = new FakeTransport().reply("https://x.test", { status: 200 });
    await requestWithDeadline(transport.fetch, "https://x.test/a", init, 5000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("waits at least a millisecond when the budget's time is already up", async () => {
    const transport = new FakeTransport().reply("https://x.test", { hang: true });
    const result = await requestWithDeadline(transport.fetch, "https://x.test/a", init, -50);
    expect(!result.ok && result.outcome.reason).toBe("no answer within 1 ms");
  });
});
