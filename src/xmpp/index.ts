export * from "./commands";
export * from "./element";
export * from "./forms";
export * from "./jid";
export * from "./namespaces";
export * from "./publish";
export * from "./stanza";
export * from "./xml";
