import { constantTimeEqual } from "../gateway/tokens";

/** The token of an `Authorization: Bearer` header, if the header has that form (RFC 6750 section 2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** Whether the request presents the expected bearer token, compared in constant time. */
export function hasBearer(header: string | undefined, expected: string): boolean {
  const token = bearerToken(header);
  return token !== undefined && constantTimeEqual(token, expected);
}
