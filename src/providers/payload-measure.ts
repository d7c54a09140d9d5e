/** The base64 length of the 12-byte IV every encrypted push seen in the wild carries (docs/protocol.md 6.4). */
export const TYPICAL_IV_BASE64_LENGTH = 16;

/** Longest summary body forwarded in a plain push, in code points: a preview, not the message. */
export const PREVIEW_MAX_CODE_POINTS = 512;

/** Cuts a preview text to {@link PREVIEW_MAX_CODE_POINTS} code points, marking the cut with an ellipsis. */
export function clampPreview(text: string): string {
  const codePoints = Array.from(text);
  if (codePoints.length <= PREVIEW_MAX_CODE_POINTS) return text;
  return `${codePoints.slice(0, PREVIEW_MAX_CODE_POINTS - 1).join("")}…`;
}

/** The UTF-8 length of a text: what APNs and FCM count against their limits. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
