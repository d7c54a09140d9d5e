export * from "./access-token";
export * from "./device-hash";
export * from "./error-codes";
export * from "./message";
export * from "./provider";
