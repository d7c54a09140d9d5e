import type { MetricLabels, Metrics } from "../ports/metrics";
import type { EndpointLedger, RegistrationStore } from "../ports/store";

type StoreOperation = MetricLabels<"storeFailures">["operation"];

/**
 * The store, counting every operation that throws by operation (docs/operations.md) before the error
 * goes on to its caller unchanged: what a publish answers `wait` for, and a registration `500`.
 */
export function countStoreFailures(store: RegistrationStore, metrics: Metrics): RegistrationStore {
  const counted = async <T>(operation: StoreOperation, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      metrics.count("storeFailures", { operation });
      throw error;
    }
  };
  const ledger = store.endpoints;
  const endpoints: EndpointLedger = {
    attach: (key, arn, node, cap) => counted("endpoint-attach", () => ledger.attach(key, arn, node, cap)),
    detach: (key, node) => counted("endpoint-detach", () => ledger.detach(key, node)),
    users: (key) => counted("endpoint-users", () => ledger.users(key)),
  };
  return {
    get: (node) => counted("get", () => store.get(node)),
    findByIdentity: (identity) => counted("find", () => store.findByIdentity(identity)),
    register: (request) => counted("register", () => store.register(request)),
    update: (registration) => counted("update", () => store.update(registration)),
    delete: (registration, reason) => counted("delete", () => store.delete(registration, reason)),
    endpoints,
    close: () => store.close(),
  };
}
