import { ConfigError } from "../config";
import type { Result } from "../domain/result";
import { jsonLogger } from "../log";
import type { HttpTransport } from "../ports/transport";
import { MemoryCredentialCache, SharedCredentialCache } from "../providers";
import { KvRegistrationStore } from "../store/kv";
import { buildGateway, buildOnce, configSource, type Gateway } from "./gateway";
import { DurableObjectOwnerIndex } from "./registration-index";
import { cloudflareClientAddress, workerRateLimiter } from "./worker-rate-limiter";

export { RegistrationIndex } from "./registration-index";

const log = jsonLogger((line) => console.log(line));

/** Workers' `fetch` as the providers' transport (HTTP/1.1 or HTTP/2 as Cloudflare's edge negotiates). */
const fetchTransport: HttpTransport = (url, init) => fetch(url, init);

let gateway: (() => Promise<Result<Gateway, ConfigError>>) | undefined;

async function build(env: Env): Promise<Gateway> {
  const kv = env.REGISTRATIONS;
  if (kv === undefined) throw new ConfigError("REGISTRATIONS", "KV binding is missing (see wrangler.toml)");
  return buildGateway(configSource(env), {
    store: (config) => {
      const namespace = env.REGISTRATION_INDEX;
      if (namespace === undefined)
        throw new ConfigError("REGISTRATION_INDEX", "Durable Object binding is missing (see wrangler.toml)");
      return new KvRegistrationStore(kv, {
        index: new DurableObjectOwnerIndex(namespace),
        tombstoneTtlSeconds: config.limits.tombstoneTtlSeconds,
      });
    },
    transport: fetchTransport,
    // Provider tokens shared between isolates through the same namespace (`cred:` keys).
    credentials: new SharedCredentialCache(new MemoryCredentialCache(Date.now), kv, Date.now),
    log,
    // The limit is the binding's (wrangler.toml); RATE_LIMIT_PER_MINUTE only sizes the fallback.
    http: (config) => ({
      rateLimiter: workerRateLimiter(env.RATE_LIMITER, config.limits.ratePerMinute, log),
      clientAddress: cloudflareClientAddress,
    }),
  });
}

/**
 * The Cloudflare Workers entry: configuration is parsed once per isolate, from the first request's
 * environment; a bad value answers every request with a 500 naming the variable.
 * @see https://developers.cloudflare.com/workers/runtime-apis/handlers/fetch/
 */
export default {
  async fetch(request, env, ctx): Promise<Response> {
    gateway ??= buildOnce(() => build(env), log);
    const result = await gateway();
    if (!result.ok) return new Response(`${result.error.message}\n`, { status: 500 });
    return result.value.app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
