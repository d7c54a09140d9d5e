import type { EncryptedPayload, JingleHint, PushNotification } from "../domain/notification";
import { failure, type Result, success } from "../domain/result";
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

/** A publish, or the stanza error that answers it. */
export type PublishResult = Result<PublishRequest, StanzaError>;

function badRequest(text: string, appCondition?: XmlElement): PublishResult {
  return failure({ type: "modify", condition: "bad-request", text, ...(appCondition ? { appCondition } : {}) });
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

function readSummary(notification: XmlElement): Result<DataForm | undefined, string> {
  let summary: DataForm | undefined;
  for (const x of childElements(notification, "x", NS.dataForms)) {
    const parsed = parseDataForm(x);
    if (!parsed.ok) return parsed;
    // A form of another FORM_TYPE is an extension this service does not know: ignored.
    if (parsed.value.formType === NS.pushSummary) summary = parsed.value;
  }
  return success(summary);
}

/**
 * Reads the `<notification xmlns='urn:xmpp:push:0'>` of a publish in any dialect of docs/protocol.md
 * section 4: the XEP-0357 summary (Prosody, ejabberd, possibly empty), Tigase encrypted and extras.
 * @see https://xmpp.org/extensions/xep-0357.html#publishing
 */
export function parseNotification(notification: XmlElement): Result<PushNotification, string> {
  const summaryResult = readSummary(notification);
  if (!summaryResult.ok) return summaryResult;
  const summary = summaryResult.value;
  const encrypted = readEncrypted(notification);
  if (encrypted === "malformed") return failure("encrypted element needs an iv and a text");
  const body = summary ? formValue(summary, "last-message-body") : undefined;
  const sender = summary ? formValue(summary, "last-message-sender") : undefined;
  const messageCount = summary ? parseCount(summary, "message-count") : undefined;
  const pendingSubscriptionCount = summary ? parseCount(summary, "pending-subscription-count") : undefined;
  const groupchat = childElement(notification, "groupchat", NS.tigaseGroupchat);
  const nicknameElement = groupchat ? childElement(groupchat, "nickname") : undefined;
  const nickname = nicknameElement ? textOf(nicknameElement).trim() || undefined : undefined;
  const jingle = readJingle(notification);
  const priority = readPriority(notification) ?? (body !== undefined || encrypted !== undefined ? "high" : "low");
  return success({
    priority,
    ...(messageCount !== undefined ? { messageCount } : {}),
    ...(sender !== undefined ? { sender } : {}),
    ...(body !== undefined ? { body } : {}),
    ...(pendingSubscriptionCount !== undefined ? { pendingSubscriptionCount } : {}),
    ...(nickname !== undefined ? { nickname } : {}),
    ...(encrypted !== undefined ? { encrypted } : {}),
    ...(jingle !== undefined ? { jingle } : {}),
  });
}

function readPublishOptions(pubsub: XmlElement): Result<string | undefined, string> {
  const options = childElements(pubsub, "publish-options", NS.pubsub);
  if (options.length > 1) return failure("publish-options is repeated");
  const [publishOptions] = options;
  if (!publishOptions) return success(undefined);
  const forms = childElements(publishOptions, "x", NS.dataForms);
  if (forms.length > 1) return failure("publish-options has more than one form");
  const [x] = forms;
  if (!x) return success(undefined);
  const parsed = parseDataForm(x);
  if (!parsed.ok) return parsed;
  if (parsed.value.formType !== undefined && parsed.value.formType !== NS.publishOptions)
    return failure("publish-options form has the wrong FORM_TYPE");
  return success(formValue(parsed.value, "secret"));
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
    return failure(unsupportedPubsub(first ? first.name : "publish"));
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
  if (!notification.ok) return badRequest(notification.error);
  const options = readPublishOptions(pubsub);
  if (!options.ok) return badRequest(options.error);
  return success({ node, notification: notification.value, secret: options.value });
}
