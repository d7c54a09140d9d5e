/** Namespaces the push service reads and writes. */
export const NS = {
  client: "jabber:client",
  component: "jabber:component:accept",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  discoInfo: "http://jabber.org/protocol/disco#info",
  discoItems: "http://jabber.org/protocol/disco#items",
  commands: "http://jabber.org/protocol/commands",
  dataForms: "jabber:x:data",
  pubsub: "http://jabber.org/protocol/pubsub",
  pubsubErrors: "http://jabber.org/protocol/pubsub#errors",
  publishOptions: "http://jabber.org/protocol/pubsub#publish-options",
  push: "urn:xmpp:push:0",
  pushSummary: "urn:xmpp:push:summary",
  ping: "urn:xmpp:ping",
  tigaseEncrypt: "tigase:push:encrypt:0",
  tigaseEncryptAesGcm: "tigase:push:encrypt:aes-128-gcm",
  tigaseEncryptOmemo: "tigase:push:encrypt:omemo:0",
  tigasePriority: "tigase:push:priority:0",
  tigaseJingle: "tigase:push:jingle:0",
  tigaseGroupchat: "http://tigase.org/protocol/muc#offline",
} as const;

/** The namespaces a stanza's top element may carry: the bridge's stream decides; all are alike here. */
export const STANZA_NAMESPACES: ReadonlySet<string> = new Set(["", NS.client, NS.component]);
