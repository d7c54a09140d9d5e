import { describe, expect, it } from "vitest";
import { openPayload, openPushNotification } from "../../../src/omemo";
import { base64Bytes, omemoPushVectors } from "../omemo/fixtures";
import { type LuaError, runHarness } from "./lua";

/*
 * The project's known-answer vectors (test/vectors/omemo-push.json, version 2) through the Prosody
 * module's Lua (integrations/prosody/mod_push_encrypt_omemo/push_encrypt_omemo.lib.lua) with Debian's
 * lua5.4 and luaossl; the IV is the vector's (the test-only way in: seal() takes it as an argument,
 * the module passes 12 random bytes). Steps 1 to 4 of test/vectors/README.md, "Checking a vector".
 */

interface VectorResult {
  readonly name: string;
  /** The `omemo` object as the Lua serializer writes it inside a plaintext, or null. */
  readonly omemo: string | null;
  readonly omemo_error: LuaError | null;
  readonly build_error: LuaError | null;
  readonly plaintext: string | null;
  readonly priority: "high" | "low" | null;
  readonly encrypted: string | null;
  readonly iv: string | null;
  /** The whole path the module runs (build, fit, serialize, seal). */
  readonly sealed_push: {
    readonly encrypted: string;
    readonly iv: string;
    readonly json: string;
    readonly priority: string;
    readonly voip: boolean;
  } | null;
  /** The vector's `encrypted` opened by the Lua side (tag checked). */
  readonly opened: string | null;
  readonly sealed_length: number | null;
}

const vectors = omemoPushVectors();

let answer: Map<string, VectorResult> | undefined;
function luaResults(): Map<string, VectorResult> {
  answer ??= new Map(
    runHarness<{ results: VectorResult[] }>({ op: "vectors", vectors }).results.map((result) => [result.name, result]),
  );
  return answer;
}

function resultFor(name: string): VectorResult {
  const result = luaResults().get(name);
  if (result === undefined) throw new Error(`no Lua result for ${name}`);
  return result;
}

describe("the Prosody module's Lua passes the OMEMO push vectors (test/vectors/, version 2)", () => {
  it("runs all five vectors, key transport included", () => {
    expect([...luaResults().keys()]).toEqual([
      "legacy-two-keys-for-device",
      "omemo2-keys-grouped-by-jid",
      "legacy-no-key-for-device",
      "legacy-groupchat-keytransport-no-payload",
      "legacy-single-key-no-prekey",
    ]);
  });

  describe.each(vectors)("$name", (vector) => {
    it("extracts expectedOmemo for the device, byte for byte", () => {
      const result = resultFor(vector.name);
      expect(result.omemo_error).toBeNull();
      const written = result.omemo === null ? null : (JSON.parse(result.omemo) as { omemo: unknown }).omemo;
      expect(JSON.stringify(written)).toBe(JSON.stringify(vector.expectedOmemo));
    });

    it("builds the exact plaintext and the expected priority", () => {
      const result = resultFor(vector.name);
      expect(result.build_error).toBeNull();
      expect(result.plaintext).toBe(vector.plaintext);
      expect(result.priority).toBe(vector.expectedPriority);
    });

    it("seals it with luaossl to the exact ciphertext||tag, of the documented length", () => {
      const result = resultFor(vector.name);
      expect(result.iv).toBe(vector.iv);
      expect(result.encrypted).toBe(vector.encrypted);
      expect(result.encrypted?.length).toBe(result.sealed_length);
      expect(result.sealed_push).toEqual({
        encrypted: vector.encrypted,
        iv: vector.iv,
        json: vector.plaintext,
        priority: vector.expectedPriority,
        voip: false,
      });
    });

    it("opens the vector's ciphertext in Lua with the tag checked", () => {
      expect(resultFor(vector.name).opened).toBe(vector.plaintext);
    });

    it("is opened by the device library (src/omemo/open.ts, tag verified) to the same push", async () => {
      const result = resultFor(vector.name);
      const sealed = { encrypted: result.encrypted ?? "", iv: result.iv ?? "" };
      const key = base64Bytes(vector.pushKey);
      expect(await openPayload(sealed, key)).toEqual({ ok: true, value: vector.plaintext });
      const pushed = await openPushNotification(sealed, key);
      expect(pushed.ok && pushed.value.omemo?.keys).toEqual(vector.expectedOmemo?.keys ?? undefined);
    });
  });
});
