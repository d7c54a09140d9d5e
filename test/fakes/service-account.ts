import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";

/** A Google service-account JSON, with every field the console's download has. */
export interface ServiceAccountJson {
  readonly type: "service_account";
  readonly project_id: string;
  readonly private_key_id: string;
  readonly private_key: string;
  readonly client_email: string;
  readonly client_id: string;
  readonly auth_uri: string;
  readonly token_uri: string;
  readonly auth_provider_x509_cert_url: string;
  readonly client_x509_cert_url: string;
  readonly universe_domain: string;
}

/** A service account made for the fake FCM: its JSON and the public key the fake verifies with. */
export interface FakeServiceAccount {
  readonly json: ServiceAccountJson;
  /** The JSON on one line, as `FCM_SERVICE_ACCOUNT` takes it. */
  readonly text: string;
  readonly publicKey: KeyObject;
}

export interface ServiceAccountOptions {
  /** Where the gateway exchanges its assertion: the fake's `/token`. */
  readonly tokenUri: string;
  /** Default `sandbox-project`. */
  readonly projectId?: string;
  /** Default `push-gateway@{projectId}.iam.gserviceaccount.com`. */
  readonly clientEmail?: string;
}

/**
 * Makes a service account with a fresh RSA-2048 key whose `token_uri` points at the fake OAuth
 * endpoint (the gateway honours `token_uri`, docs/protocol.md 6.2). Hand it to `FakeFcm.trust`.
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#creatinganaccount
 */
export function createServiceAccount(options: ServiceAccountOptions): FakeServiceAccount {
  const projectId = options.projectId ?? "sandbox-project";
  const clientEmail = options.clientEmail ?? `push-gateway@${projectId}.iam.gserviceaccount.com`;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const json: ServiceAccountJson = {
    type: "service_account",
    project_id: projectId,
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: clientEmail,
    client_id: String(100_000_000_000_000_000_000n + BigInt(`0x${randomBytes(8).toString("hex")}`)),
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: options.tokenUri,
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: "googleapis.com",
  };
  return { json, text: JSON.stringify(json), publicKey };
}
