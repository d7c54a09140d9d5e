/** Most push requests one publish may cause, whatever the reason (docs/protocol.md section 5). */
export const MAX_PUSH_REQUESTS = 2;
/** A provider that does not answer yields `wait` within this bound (the bridge waits 30 s). */
export const PUBLISH_DEADLINE_MS = 25_000;

/**
 * The work one publish may still cause: provider requests left and time left. Providers take a
 * request from it before each HTTP request (OAuth token requests do not count).
 */
export class PushBudget {
  private requestsLeft: number;

  constructor(
    private readonly now: () => number,
    readonly deadline: number,
    requests = MAX_PUSH_REQUESTS,
  ) {
    this.requestsLeft = requests;
  }

  /** Takes one provider request from the budget; false when none is left or time is up. */
  take(): boolean {
    if (this.requestsLeft <= 0 || this.remainingMs() <= 0) return false;
    this.requestsLeft -= 1;
    return true;
  }

  /** Whether another request could still be made. */
  get canRetry(): boolean {
    return this.requestsLeft > 0 && this.remainingMs() > 0;
  }

  remainingMs(): number {
    return this.deadline - this.now();
  }
}
