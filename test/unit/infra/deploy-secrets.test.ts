import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { providerSecretName, syncProviderSecret } from "../../../infra/deploy";
import { collectSecrets, DEPLOYMENT_SECRET_NAMES, mergeSecret, missingRequired } from "../../../infra/secrets";

/** Secrets Manager as the three calls of syncProviderSecret see it: one secret, its versions, its puts. */
class SecretStore {
  readonly puts: string[] = [];
  private versions: { id: string; text: string }[] = [];
  constructor(
    readonly exists: boolean,
    initial?: Record<string, string>,
  ) {
    if (initial !== undefined) this.versions.push({ id: "v1", text: JSON.stringify(initial) });
  }

  readonly client: Pick<SecretsManagerClient, "send"> = {
    send: (async (command: unknown) => {
      const notFound = () =>
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
      const current = this.versions.at(-1);
      if (command instanceof DescribeSecretCommand) {
        if (!this.exists) throw notFound();
        return { VersionIdsToStages: current === undefined ? undefined : { [current.id]: ["AWSCURRENT"] } };
      }
      if (command instanceof GetSecretValueCommand) {
        if (current === undefined) throw notFound();
        return { SecretString: current.text, VersionId: current.id };
      }
      if (command instanceof PutSecretValueCommand) {
        const id = `v${this.versions.length + 1}`;
        this.versions.push({ id, text: command.input.SecretString ?? "" });
        this.puts.push(command.input.SecretString ?? "");
        return { VersionId: id };
      }
      throw new Error("unexpected command");
    }) as Pick<SecretsManagerClient, "send">["send"],
  };

  current(): Record<string, string> {
    return JSON.parse(this.versions.at(-1)?.text ?? "{}");
  }
}

const REQUIRED = { SERVER_KEY: "a-server-key-of-more-than-thirty-two-characters", GATEWAY_TOKEN: "bridge-token" };

describe("the deployment secrets (infra/secrets.ts)", () => {
  it("takes only the listed names, and treats an empty value as unset", () => {
    expect(collectSecrets({ ...REQUIRED, NODE_MAC_KEY: "", PATH: "/usr/bin", APNS_TOPIC: "im.example.app" })).toEqual({
      ...REQUIRED,
      APNS_TOPIC: "im.example.app",
    });
    expect(missingRequired({ GATEWAY_TOKEN: "t" })).toEqual(["SERVER_KEY"]);
    expect(DEPLOYMENT_SECRET_NAMES).toEqual(
      expect.arrayContaining(["SERVER_KEY", "GATEWAY_TOKEN", "APNS_PRIVATE_KEY"]),
    );
  });

  it("merges what is given over what the secret holds, and says whether anything changed", () => {
    expect(mergeSecret({ A: "1", B: "2" }, { B: "2" })).toEqual({ merged: { A: "1", B: "2" }, changed: false });
    expect(mergeSecret({ A: "1" }, { A: "3", C: "4" })).toEqual({ merged: { A: "3", C: "4" }, changed: true });
  });
});

describe("syncProviderSecret (infra/deploy.ts)", () => {
  const id = providerSecretName("staging");

  it("names the stack's secret", () => {
    expect(id).toBe("xmpp-push-gateway-staging/providers");
  });

  it("says the secret is missing before the first deploy, and writes nothing", async () => {
    const store = new SecretStore(false);
    expect(await syncProviderSecret(store.client, id, REQUIRED)).toEqual({
      state: "missing",
      revision: "none",
      changed: false,
      names: [],
    });
    expect(store.puts).toEqual([]);
  });

  it("fills a secret created without a value, and answers the new version as the revision", async () => {
    const store = new SecretStore(true);
    const sync = await syncProviderSecret(store.client, id, { ...REQUIRED, APNS_TOPIC: "im.example.app" });
    expect(sync).toEqual({
      state: "present",
      revision: "v1",
      changed: true,
      names: ["SERVER_KEY", "GATEWAY_TOKEN", "APNS_TOPIC"],
    });
    expect(store.current()).toEqual({ ...REQUIRED, APNS_TOPIC: "im.example.app" });
  });

  it("keeps names set by hand, and writes no new version when nothing changes", async () => {
    const store = new SecretStore(true, { ...REQUIRED, FCM_SERVICE_ACCOUNT: "{}" });
    const sync = await syncProviderSecret(store.client, id, { GATEWAY_TOKEN: "bridge-token" });
    expect(sync).toMatchObject({ state: "present", revision: "v1", changed: false });
    expect(store.puts).toEqual([]);
    const rotated = await syncProviderSecret(store.client, id, { GATEWAY_TOKEN: "new-token" });
    expect(rotated).toMatchObject({ revision: "v2", changed: true });
    expect(store.current()).toEqual({ ...REQUIRED, GATEWAY_TOKEN: "new-token", FCM_SERVICE_ACCOUNT: "{}" });
  });

  it("stops, naming them, when a required secret is neither given nor in the secret", async () => {
    const store = new SecretStore(true, { GATEWAY_TOKEN: "t" });
    await expect(syncProviderSecret(store.client, id, {})).rejects.toThrow(
      /^SERVER_KEY: neither a secret of this GitHub environment nor in xmpp-push-gateway-staging\/providers/,
    );
    expect(store.puts).toEqual([]);
  });
});
