/** Whether a parsed JSON value is an object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses a provider's response body as a JSON object; an empty, unparsable or non-object body is
 * `{}` (providers answer HTML from proxies and empty bodies on success, and neither is a fault).
 */
export function parseJsonObject(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(body);
    return isJsonObject(value) ? value : {};
  } catch {
    return {};
  }
}
