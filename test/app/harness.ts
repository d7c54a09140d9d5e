export * from "../shared/harness";
