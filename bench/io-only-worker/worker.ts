/**
 * The I/O-only Worker of bench/hostile-workerd.ts and bench/run.ts: for a POST it reads the whole body as
 * text, does one KV `get` of a fixed key, (with `OUTBOUND_URL`) one outbound POST, writes one log line and
 * answers 200 with a short XML body; anything else
 * answers 200 "ok" (the readiness probe). No parsing: its workerd CPU per request is the runtime's own
 * cost of such a request, which the gateway's is compared with.
 *
 * Types are declared here (the little this Worker uses) so that the file needs neither the Workers
 * types nor a tsconfig of its own; `Request` and `Response` are the standard ones.
 */

/** The part of a KV namespace binding this Worker uses. */
interface KvReader {
  get(key: string): Promise<string | null>;
}

interface IoOnlyEnv {
  readonly KV: KvReader;
  /**
   * When set (bench/run.ts sets it to the sink), a POST also makes one outbound POST there and reads its
   * answer, as a publish's push does; bench/hostile-workerd.ts leaves it unset (refused stanzas send nothing).
   */
  readonly OUTBOUND_URL?: string;
}

/** A key nothing writes: the `get` misses, as the gateway's lookup of an unknown node does. */
const FIXED_KEY = "bench:io-only:fixed-key";

const ANSWER = "<iq xmlns='jabber:client' type='result' id='io-only'/>";

export default {
  async fetch(request: Request, env: IoOnlyEnv): Promise<Response> {
    if (request.method !== "POST") return new Response("ok\n");
    const text = await request.text();
    const value = await env.KV.get(FIXED_KEY);
    if (env.OUTBOUND_URL) {
      const outbound = await fetch(env.OUTBOUND_URL, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ aps: { "content-available": 1 }, chars: text.length }),
      });
      await outbound.text();
    }
    console.log(JSON.stringify({ level: "info", event: "io-only", chars: text.length, found: value !== null }));
    return new Response(ANSWER, { status: 200, headers: { "content-type": "application/xml; charset=utf-8" } });
  },
};
