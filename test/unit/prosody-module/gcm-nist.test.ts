import { createCipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gcmSpecCases } from "../omemo/fixtures";
import { runHarness } from "./lua";

/*
 * AES-128-GCM as the Prosody module computes it (luaossl 20220711 for Lua 5.4, cipher:getTag(16) and
 * setTag()), against published test vectors:
 * - NIST CAVP gcmEncryptExtIV128.rsp, six vectors without additional data (nist-gcm-cavp.json says
 *   which and where from);
 * - the GCM specification's test cases 1 to 3 (McGrew and Viega, Appendix B; test/fixtures/crypto/,
 *   also what src/omemo's tests use).
 * The upstream mod_cloud_notify_encrypted writes sixteen zero bytes instead of the tag; these tests
 * prove the module writes the real one, and that opening checks it.
 */

interface GcmCase {
  readonly id: string;
  readonly key: string;
  readonly iv: string;
  readonly pt: string;
  readonly ct: string;
  readonly tag: string;
}

interface GcmResult {
  readonly id: string;
  readonly sealed: string;
  readonly opened: string | null;
  readonly opened_with_changed_tag: boolean;
  readonly opened_with_changed_ciphertext: boolean | null;
}

const cavp = (JSON.parse(readFileSync(new URL("nist-gcm-cavp.json", import.meta.url), "utf8")) as { cases: GcmCase[] })
  .cases;
const specCases: GcmCase[] = gcmSpecCases()
  .filter((testCase) => testCase.aad === "")
  .map(({ id, key, iv, pt, ct, tag }) => ({ id, key, iv, pt, ct, tag }));
const allCases = [...cavp, ...specCases];

let answer: Map<string, GcmResult> | undefined;
/** One lua5.4 run for every vector, made by the first test that asks. */
function luaResults(): Map<string, GcmResult> {
  answer ??= new Map(
    runHarness<{ results: GcmResult[] }>({ op: "gcm", cases: allCases }).results.map((result) => [result.id, result]),
  );
  return answer;
}

function nodeSeal(testCase: GcmCase): string {
  const cipher = createCipheriv("aes-128-gcm", Buffer.from(testCase.key, "hex"), Buffer.from(testCase.iv, "hex"), {
    authTagLength: 16,
  });
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(testCase.pt, "hex")), cipher.final()]);
  return Buffer.concat([ciphertext, cipher.getAuthTag()]).toString("hex");
}

describe("AES-128-GCM in the Prosody module (luaossl) against NIST's GCM vectors", () => {
  it("has six CAVP vectors (PTlen 0, 104, 128) and the GCM specification's test cases 1 to 3", () => {
    expect(cavp.map((testCase) => testCase.id)).toEqual([
      "CAVP-PTlen0-Count0",
      "CAVP-PTlen0-Count1",
      "CAVP-PTlen104-Count0",
      "CAVP-PTlen104-Count1",
      "CAVP-PTlen128-Count0",
      "CAVP-PTlen128-Count1",
    ]);
    expect(specCases.map((testCase) => testCase.id)).toEqual(["GCM-spec-TC1", "GCM-spec-TC2", "GCM-spec-TC3"]);
  });

  it.each(allCases)("$id: Node's crypto gives the same ciphertext and tag (the copied vector is right)", (testCase) => {
    expect(nodeSeal(testCase)).toBe(testCase.ct + testCase.tag);
  });

  it.each(allCases)("$id: Lua seals to ciphertext||tag with the real 16-byte tag", (testCase) => {
    const result = luaResults().get(testCase.id);
    expect(result?.sealed).toBe(testCase.ct + testCase.tag);
    expect(result?.sealed.slice(-32)).not.toBe("0".repeat(32));
  });

  it.each(allCases)("$id: Lua opens it with the tag checked, and refuses a changed tag or ciphertext", (testCase) => {
    const result = luaResults().get(testCase.id);
    expect(result?.opened).toBe(testCase.pt);
    expect(result?.opened_with_changed_tag).toBe(false);
    expect(result?.opened_with_changed_ciphertext).toBe(testCase.pt === "" ? null : false);
  });

  it("refuses a key that is not 16 bytes and an IV that is not 12, which luaossl alone would take", () => {
    expect(runHarness({ op: "gcm_refusals" })).toEqual({
      short_iv: true,
      long_iv: true,
      short_key: true,
      aes_256_key: true,
      good: false,
    });
  });
});
