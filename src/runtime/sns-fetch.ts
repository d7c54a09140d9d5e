import { AwsClient } from "aws4fetch";
import type { HttpTransport } from "../ports";
import type { SnsAnswer, SnsClient, SnsFailure } from "../ports/sns";

export interface FetchSnsOptions {
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Default `https://sns.<region>.amazonaws.com` (tests point it at a local fake). */
  readonly endpoint?: string;
  /** How requests leave: the Worker's `fetch`. */
  readonly fetch: HttpTransport;
}

/** Of an answer, only this much is looked at: SNS's answers to these three actions are well under 2 KiB. */
const MAX_ANSWER_CHARS = 16_384;
const API_VERSION = "2010-03-31";
const TIMEOUT: SnsFailure = { kind: "timeout" };

/**
 * The {@link SnsClient} port for Workers, where the SDK's browser build cannot run (it parses XML with
 * `DOMParser`, which workerd lacks): the awsQuery protocol by hand, a form-encoded `POST /` with
 * `Action` and `Version=2010-03-31` signed with SigV4 by aws4fetch, and only the few elements of the XML
 * answer it needs read out (`EndpointArn`, `MessageId`, `Error/Code`, `Error/Message`). One attempt per
 * call, abandoned after its `timeoutMs`.
 * @see https://docs.aws.amazon.com/sns/latest/api/CommonParameters.html
 * @see https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
 */
export function createFetchSnsClient(options: FetchSnsOptions): SnsClient {
  const { region, fetch: transport } = options;
  const aws = new AwsClient({
    accessKeyId: options.accessKeyId,
    secretAccessKey: options.secretAccessKey,
    ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    service: "sns",
    region,
    retries: 0,
  });
  const domain = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  const url = `${(options.endpoint ?? `https://sns.${region}.${domain}`).replace(/\/+$/, "")}/`;

  async function call<T>(
    action: string,
    params: Record<string, string>,
    timeoutMs: number,
    read: (xml: string) => { readonly value: T } | undefined,
    wanted: string,
  ): Promise<SnsAnswer<T>> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<SnsAnswer<T>>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ ok: false, error: TIMEOUT });
      }, timeoutMs);
    });
    const exchange = async (): Promise<SnsAnswer<T>> => {
      const body = new URLSearchParams({ Action: action, Version: API_VERSION, ...params }).toString();
      const signed = await aws.sign(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
        body,
      });
      const headers: Record<string, string> = {};
      signed.headers.forEach((value, name) => {
        headers[name] = value;
      });
      const response = await transport(url, { method: "POST", headers, body, signal: controller.signal });
      const xml = (await response.text()).slice(0, MAX_ANSWER_CHARS);
      const { status } = response;
      if (status >= 200 && status < 300) {
        const found = read(xml);
        if (found !== undefined) return { ok: true, value: found.value };
        return { ok: false, error: { kind: "service", code: "MalformedResponse", status, message: `no ${wanted}` } };
      }
      const error = xml.slice(Math.max(0, xml.indexOf("<Error>")));
      return {
        ok: false,
        error: {
          kind: "service",
          // As the SDK does: an answer without a Code is `NotFound` when 404, else `Unknown`.
          code: element(error, "Code") ?? (status === 404 ? "NotFound" : "Unknown"),
          status,
          message: element(error, "Message") ?? "Unknown",
        },
      };
    };
    try {
      return await Promise.race([exchange(), deadline]);
    } catch (error) {
      return { ok: false, error: controller.signal.aborted ? TIMEOUT : networkFailure(error) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  return {
    createPlatformEndpoint: ({ platformApplicationArn, token, timeoutMs }) =>
      call(
        "CreatePlatformEndpoint",
        { PlatformApplicationArn: platformApplicationArn, Token: token },
        timeoutMs,
        (xml) => {
          const endpointArn = element(xml, "EndpointArn");
          return endpointArn === undefined ? undefined : { value: { endpointArn } };
        },
        "EndpointArn",
      ),
    deleteEndpoint: ({ endpointArn, timeoutMs }) =>
      call("DeleteEndpoint", { EndpointArn: endpointArn }, timeoutMs, () => ({ value: undefined }), "answer"),
    publish: ({ targetArn, message, attributes, timeoutMs }) => {
      const params: Record<string, string> = { TargetArn: targetArn, Message: message, MessageStructure: "json" };
      let index = 0;
      for (const [name, value] of Object.entries(attributes)) {
        const entry = `MessageAttributes.entry.${++index}`;
        params[`${entry}.Name`] = name;
        params[`${entry}.Value.DataType`] = "String";
        params[`${entry}.Value.StringValue`] = value;
      }
      return call(
        "Publish",
        params,
        timeoutMs,
        (xml) => {
          const messageId = element(xml, "MessageId");
          return messageId === undefined ? undefined : { value: { messageId } };
        },
        "MessageId",
      );
    },
  };
}

/** The text of the first `<name>…</name>` (no attributes, no children, as SNS writes them), unescaped. */
function element(xml: string, name: string): string | undefined {
  const open = `<${name}>`;
  const start = xml.indexOf(open);
  if (start < 0) return undefined;
  const end = xml.indexOf(`</${name}>`, start + open.length);
  if (end < 0) return undefined;
  const text = xml.slice(start + open.length, end);
  return text === "" || text.includes("<") ? undefined : unescapeXml(text);
}

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (entity, name: string) => {
    if (name[0] !== "#") return ENTITIES[name] ?? entity;
    const code = name[1] === "x" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}

function networkFailure(error: unknown): SnsFailure {
  if (!(error instanceof Error)) return { kind: "network", reason: String(error) };
  if (error.name === "AbortError" || error.name === "TimeoutError") return TIMEOUT;
  // Node's fetch says "fetch failed" and puts the system error (ECONNREFUSED, …) in `cause`.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return { kind: "network", reason: `${error.message}${cause}` };
}
