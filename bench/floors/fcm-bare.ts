/**
 * FLOOR (frozen: written before any optimisation for issue 18, never to be changed; a new floor is a new
 * file). The bare FCM HTTP v1 sender the gateway's is measured against: one `node:http2` session, the
 * access token obtained once beforehand, the headers the gateway sends (`authorization`, `content-type`,
 * `content-length`), one `JSON.stringify` per message, and the answer read: `:status` and the whole body.
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 */
import http2 from "node:http2";

/** What one message carries (an encrypted push: the account, the blob and its IV as data). */
export interface BareFcmMessage {
  readonly token: string;
  readonly account: string;
  readonly encrypted: string;
  readonly iv: string;
}

export interface BareFcmOptions {
  /** `https://host:port` of FCM (or the sink). */
  readonly origin: string;
  readonly ca?: string;
  readonly projectId: string;
  /** The OAuth access token, obtained once. */
  readonly accessToken: string;
}

export interface BareFcmSender {
  send(message: BareFcmMessage): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export async function bareFcmSender(options: BareFcmOptions): Promise<BareFcmSender> {
  const authorization = `Bearer ${options.accessToken}`;
  const path = `/v1/projects/${options.projectId}/messages:send`;
  const session = http2.connect(options.origin, options.ca ? { ca: options.ca } : {});
  await new Promise<void>((resolve, reject) => {
    session.once("remoteSettings", () => resolve());
    session.once("error", reject);
  });
  return {
    send(message) {
      const body = JSON.stringify({
        message: {
          token: message.token,
          android: { priority: "high", ttl: "86400s" },
          data: { account: message.account, encrypted: message.encrypted, iv: message.iv },
        },
      });
      return new Promise((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": path,
          authorization,
          "content-type": "application/json; charset=utf-8",
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
