export * from "./alert-text";
export * from "./answer";
export * from "./payload";
export * from "./provider";
export * from "./provider-token";
export * from "./reasons";
