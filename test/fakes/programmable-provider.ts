import type { PushOutcome } from "../../src/domain";
import type { ProviderId, Registration } from "../../src/domain/registration";
import type { ProviderDirectory, PushProvider, PushRequest } from "../../src/ports";
import { providerCatalog } from "../../src/providers/directory";

/** The real catalog of the registry: commands, disco and REST names as the gateway has them. */
function providerCatalogMethods(): Pick<ProviderDirectory, "catalog" | "named"> {
  const { catalog, named } = providerCatalog();
  return { catalog: () => catalog, named };
}

/**
 * A provider whose answers a test programs: a queue of outcomes (default: delivered), a record of
 * every request, and a payload budget. It takes from the push budget like a real provider.
 */
export class ProgrammableProvider implements PushProvider {
  readonly sent: PushRequest[] = [];
  private readonly queue: PushOutcome[] = [];

  constructor(
    readonly id: ProviderId,
    private readonly payloadSize = 3000,
  ) {}

  /** Answers the next sends with these outcomes, in order. */
  willAnswer(...outcomes: PushOutcome[]): this {
    this.queue.push(...outcomes);
    return this;
  }

  async send(request: PushRequest): Promise<PushOutcome> {
    if (!request.budget.take()) return { kind: "retry-later", reason: "push budget spent" };
    this.sent.push(request);
    return this.queue.shift() ?? { kind: "delivered" };
  }

  maxPayloadSize(_registration: Registration): number {
    return this.payloadSize;
  }

  payloadCapacity(_registration: Registration): number {
    return this.payloadSize;
  }
}

/** A directory of programmable providers, per app. */
export function programmableDirectory(
  apps: Readonly<Record<string, Partial<Record<ProviderId, PushProvider>>>>,
): ProviderDirectory {
  return {
    get: (app, provider) => apps[app]?.[provider],
    offered: () => {
      const ids = new Set<ProviderId>();
      for (const providers of Object.values(apps)) for (const id of Object.keys(providers)) ids.add(id as ProviderId);
      return [...ids].sort();
    },
    hasApp: (app) => Object.hasOwn(apps, app),
    ...providerCatalogMethods(),
  };
}
