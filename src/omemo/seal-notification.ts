import { failure, type Result, success } from "../domain/result";
import { type BudgetError, fitPushPlaintext } from "./budget";
import { type PushPlaintext, serializePushPlaintext } from "./plaintext";
import { type SealedPush, type SealOptions, sealPayload } from "./seal";

export interface SealNotificationOptions extends SealOptions {
  /** The enable's `max-size`: the largest length of the base64 `encrypted` text. */
  readonly maxSize?: number;
}

/** A sealed push and the plaintext that went into it (after the budget cut, if any). */
export interface SealedNotification extends SealedPush {
  readonly plaintext: PushPlaintext;
  /** Whether the push is a call, to be marked `type='voip'`. */
  readonly voip: boolean;
}

/**
 * Fits a push plaintext into the enable's `max-size` (see {@link fitPushPlaintext}), writes it as the
 * extension's JSON and seals it with AES-128-GCM under the device's key.
 * @see https://xeps.tigase.net/docs/push-notifications/encrypt/
 */
export async function sealPushNotification(
  plaintext: PushPlaintext,
  key: Uint8Array,
  options: SealNotificationOptions = {},
): Promise<Result<SealedNotification, BudgetError>> {
  const fitted = options.maxSize === undefined ? success(plaintext) : fitPushPlaintext(plaintext, options.maxSize);
  if (!fitted.ok) return failure(fitted.error);
  const sealed = await sealPayload(serializePushPlaintext(fitted.value), key, options);
  return success(Object.assign({}, sealed, { plaintext: fitted.value, voip: fitted.value.type === "call" }));
}
