/**
 * FLOOR (frozen: written before any optimisation for issue 18, never to be changed; a new floor is a new
 * file). The bare APNs sender the gateway's is measured against: one `node:http2` session, the provider
 * token (an ES256 JWT) signed once with `node:crypto`, the headers the gateway sends (`authorization`,
 * `apns-topic`, `apns-push-type`, `apns-priority`, `apns-expiration`, `content-length`), one
 * `JSON.stringify` per notification, and the answer read: `:status` and the whole body. No queue, no
 * deadline, no retry, no validation: what any sender must do at the least.
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
import { createPrivateKey, sign } from "node:crypto";
import http2 from "node:http2";

/** What one notification carries (the Tigase encrypted push: generic alert texts, the blob, its IV). */
export interface BareApnsNotification {
  readonly deviceToken: string;
  readonly account: string;
  readonly encrypted: string;
  readonly iv: string;
}

export interface BareApnsOptions {
  /** `https://host:port` of APNs (or the sink). */
  readonly origin: string;
  /** Extra CA (PEM) to trust, for a local sink. */
  readonly ca?: string;
  readonly teamId: string;
  readonly keyId: string;
  /** The .p8 key, PKCS #8 PEM. */
  readonly privateKeyPem: string;
  readonly topic: string;
}

export interface BareApnsSender {
  /** Sends one push; resolves with the status and body APNs answered. */
  send(notification: BareApnsNotification): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/** The provider token: `{alg: ES256, kid}.{iss, iat}`, signed once. */
function providerToken(options: BareApnsOptions): string {
  const header = base64url(JSON.stringify({ alg: "ES256", kid: options.keyId }));
  const claims = base64url(JSON.stringify({ iss: options.teamId, iat: Math.floor(Date.now() / 1000) }));
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
    key: createPrivateKey(options.privateKeyPem),
    dsaEncoding: "ieee-p1363",
  });
  return `${header}.${claims}.${base64url(signature)}`;
}

export async function bareApnsSender(options: BareApnsOptions): Promise<BareApnsSender> {
  const authorization = `bearer ${providerToken(options)}`;
  const session = http2.connect(options.origin, options.ca ? { ca: options.ca } : {});
  await new Promise<void>((resolve, reject) => {
    session.once("remoteSettings", () => resolve());
    session.once("error", reject);
  });
  return {
    send(notification) {
      const body = JSON.stringify({
        aps: { alert: { title: "New message", body: "New message" }, "mutable-content": 1, sound: "default" },
        account: notification.account,
        encrypted: notification.encrypted,
        iv: notification.iv,
      });
      return new Promise((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `/3/device/${notification.deviceToken}`,
          authorization,
          "apns-topic": options.topic,
          "apns-push-type": "alert",
          "apns-priority": "10",
          "apns-expiration": String(Math.floor(Date.now() / 1000) + 86_400),
          "content-length": String(Buffer.byteLength(body)),
        });
        let status = 0;
        let text = "";
        stream.setEncoding("utf8");
        stream.on("response", (headers) => {
          status = Number(headers[":status"]);
        });
        stream.on("data", (chunk: string) => {
          text += chunk;
        });
        stream.on("end", () => resolve({ status, body: text }));
        stream.on("error", reject);
        stream.end(body);
      });
    },
    close: () => new Promise((resolve) => session.close(() => resolve())),
  };
}
