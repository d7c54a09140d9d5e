import type { PushOutcome } from "../domain/outcome";

/**
 * The outcome of a push the publish's budget no longer allows (docs/protocol.md section 5: at most two
 * provider requests per publish, within its deadline): answered `wait`.
 */
export const BUDGET_SPENT = { kind: "retry-later", reason: "push budget spent" } as const satisfies PushOutcome;
