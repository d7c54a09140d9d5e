/**
 * The texts of an alert whose content the gateway cannot or will not show: an encrypted push (the
 * app's notification extension replaces them after decrypting) and the fallback push of docs/protocol.md
 * 6.4. The gateway never decrypts anything.
 */
export const GENERIC_ALERT_TEXT = {
  message: { title: "New message", body: "You have a new message" },
  call: { title: "Incoming call", body: "Someone is calling you" },
} as const;

export interface AlertText {
  readonly title: string;
  readonly body: string;
}
