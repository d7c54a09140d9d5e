import type { EncryptedPayload, JingleHint, PushNotification } from "../domain/notification";
import { attribute, childElement, childElements, element, textOf } from "./element";
import { type DataForm, formValue, parseDataForm } from "./forms";
import { NS } from "./namespaces";
import type { StanzaError } from "./stanza";
import type { XmlElement } from "./xml";

/** A XEP-0357 publish: the node, the notification and the publish-options. */
export interface PublishRequest {
  readonly node: string;
  readonly notification: PushNotification;
  /** `secret` from publish-options, when the server sent one. */
  readonly secret: string | undefined;
}

export type PublishResult = { ok: true; publish: PublishRequest } | { ok: false; error: StanzaError };

function badRequest(text: string, appCondition?: XmlElement): { ok: false; error: StanzaError } {
  return {
    ok: false,
    error: { type: "modify", condition: "bad-request", text, ...(appCondition ? { appCondition } : {}) },
  };
}

/** Another pubsub request than a publish: XEP-0060 `feature-not-implemented` with `<unsupported/>`. */
export function unsupportedPubsub(feature: string): StanzaError {
  return {
    type: "cancel",
    condition: "feature-not-implemented",
    appCondition: element("unsupported", { xmlns: NS.pubsubErrors, feature }),
  };
}

function parseCount(form: DataForm, name: string): number | undefined {
  const value = formValue(form, name);
  if (value === undefined || !/^[0-9]{1,9}$/.test(value)) return undefined;
  return Number(value);
}

function withoutWhiteSpace(text: string): string {
  return text.replace(/\s+/g, "");
}

function readEncrypted(notification: XmlElement): EncryptedPayload | undefined | "malformed" {
  const encrypted = childElement(notification, "encrypted", NS.tigaseEncrypt);
  if (!encrypted) return undefined;
  const data = withoutWhiteSpace(textOf(encrypted));
  const iv = withoutWhiteSpace(attribute(encrypted, "iv") ?? "");
  if (data === "" || iv === "") return "malformed";
  return { data, iv, voip: attribute(encrypted, "type") === "voip" };
}

function readJingle(notification: XmlElement): JingleHint | undefined {
  const jingle = childElement(notification, "jingle", NS.tigaseJingle);
  if (!jingle) return undefined;
  return {
    action: attribute(jingle, "action") ?? "",
    sid: attribute(jingle, "sid") ?? "",
    media: childElements(jingle, "media").map((media) => textOf(media).trim()),
  };
}

function readPriority(notification: XmlElement): "high" | "low" | undefined {
  const priority = childElement(notification, "priority", NS.tigasePriority);
  const value = priority ? textOf(priority).trim() : undefined;
  return value === "high" || value === "low" ? value : undefined;
}

type SummaryResult = { ok: true; summary: DataForm | undefined } | { ok: false; reason: string };

function readSummary(notification: XmlElement): SummaryResult {
  let summary: DataForm | undefined;
  for (const x of childElements(notification, "x", NS.dataForms)) {
    const parsed = parseDataForm(x);
    if (!parsed.ok) return parsed;
    // A form of another FORM_TYPE is an extension this service does not know: ignored.
    if (parsed.form.formType === NS.pushSummary) summary = parsed.form;
  }
  return { ok: true, summary };
}

/**
 * Reads the `<notification xmlns='urn:xmpp:push:0'>` of a publish in any dialect of PROTOCOL.md
 * section 4: the XEP-0357 summary (Prosody, ejabberd, possibly empty), Tigase encrypted and extras.
 * @see https://xmpp.org/extensions/xep-0357.html#publishing
 */
export function parseNotification(
  notification: XmlElement,
): { ok: true; notification: PushNotification } | { ok: false; reason: string } {
  const summaryResult = readSummary(notification);
  if (!summaryResult.ok) return summaryResult;
  const summary = summaryResult.summary;
  const encrypted = readEncrypted(notification);
  if (encrypted === "malformed") return { ok: false, reason: "encrypted element needs an iv and a text" };
  const body = summary ? formValue(summary, "last-message-body") : undefined;
  const sender = summary ? formValue(summary, "last-message-sender") : undefined;
  const messageCount = summary ? parseCount(summary, "message-count") : undefined;
  const pendingSubscriptionCount = summary ? parseCount(summary, "pending-subscription-count") : undefined;
  const groupchat = childElement(notification, "groupchat", NS.tigaseGroupchat);
  const nicknameElement = groupchat ? childElement(groupchat, "nickname") : undefined;
  const nickname = nicknameElement ? textOf(nicknameElement).trim() || undefined : undefined;
  const jingle = readJingle(notification);
  const priority = readPriority(notification) ?? (body !== undefined || encrypted !== undefined ? "high" : "low");
  return {
    ok: true,
    notification: {
      priority,
      ...(messageCount !== undefined ? { messageCount } : {}),
      ...(sender !== undefined ? { sender } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(pendingSubscriptionCount !== undefined ? { pendingSubscriptionCount } : {}),
      ...(nickname !== undefined ? { nickname } : {}),
      ...(encrypted !== undefined ? { encrypted } : {}),
      ...(jingle !== undefined ? { jingle } : {}),
    },
  };
}

function readPublishOptions(
  pubsub: XmlElement,
): { ok: true; secret: string | undefined } | { ok: false; reason: string } {
  const options = childElements(pubsub, "publish-options", NS.pubsub);
  if (options.length > 1) return { ok: false, reason: "publish-options is repeated" };
  const [publishOptions] = options;
  if (!publishOptions) return { ok: true, secret: undefined };
  const forms = childElements(publishOptions, "x", NS.dataForms);
  if (forms.length > 1) return { ok: false, reason: "publish-options has more than one form" };
  const [x] = forms;
  if (!x) return { ok: true, secret: undefined };
  const parsed = parseDataForm(x);
  if (!parsed.ok) return parsed;
  if (parsed.form.formType !== undefined && parsed.form.formType !== NS.publishOptions)
    return { ok: false, reason: "publish-options form has the wrong FORM_TYPE" };
  return { ok: true, secret: formValue(parsed.form, "secret") };
}

/**
 * Reads a pubsub `<publish/>` of a push notification (XEP-0357 section 7). Any other pubsub request
 * is `feature-not-implemented`; a publish that is not a `urn:xmpp:push:0` notification, or a malformed
 * form, is `bad-request`.
 * @see https://xmpp.org/extensions/xep-0357.html#publishing
 */
export function parsePublish(pubsub: XmlElement): PublishResult {
  const publishes = childElements(pubsub, "publish", NS.pubsub);
  const [publish] = publishes;
  if (!publish) {
    const first = childElements(pubsub)[0];
    return { ok: false, error: unsupportedPubsub(first ? first.name : "publish") };
  }
  if (publishes.length > 1) return badRequest("one publish per request");
  const node = attribute(publish, "node");
  if (node === undefined || node === "")
    return badRequest("publish without a node", element("nodeid-required", { xmlns: NS.pubsubErrors }));
  const items = childElements(publish, "item", NS.pubsub);
  const [item] = items;
  if (!item || items.length > 1) return badRequest("a publish carries exactly one item");
  const notifications = childElements(item, "notification", NS.push);
  const [notificationElement] = notifications;
  if (!notificationElement || notifications.length > 1)
    return badRequest("the item is not one urn:xmpp:push:0 notification");
  const notification = parseNotification(notificationElement);
  if (!notification.ok) return badRequest(notification.reason);
  const options = readPublishOptions(pubsub);
  if (!options.ok) return badRequest(options.reason);
  return { ok: true, publish: { node, notification: notification.notification, secret: options.secret } };
}
