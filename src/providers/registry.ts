import { type ConfigSource, type GatewayConfig, parseConfig } from "../config";
import { APNS } from "./apns/descriptor";
import type { ProviderDescriptor } from "./descriptor";
import { FCM } from "./fcm/descriptor";

/**
 * Every provider the gateway knows, one line each (docs/architecture.md section 4.1). The order is the
 * order their p2 commands are listed in disco: FCM first, as Conversations, the main p2 client, uses it.
 */
export const PROVIDERS: readonly ProviderDescriptor[] = [FCM, APNS];

/** The configuration of every registered provider, read once at start-up (docs/protocol.md section 8). */
export function parseGatewayConfig(env: ConfigSource): GatewayConfig {
  return parseConfig(
    env,
    PROVIDERS.map((descriptor) => descriptor.config),
  );
}
