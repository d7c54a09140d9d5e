/** Severity of a log event. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** One structured event: a name and flat fields. Never a full token, secret, key or payload. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where structured log events go (one JSON object per line on every runtime). */
export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

/** A logger writing one JSON object per event through `write` (console.log on Workers and Node). */
export function jsonLogger(write: (line: string) => void, minimum: LogLevel = "info"): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return {
    log(level, event, fields = {}) {
      if (order[level] < order[minimum]) return;
      write(JSON.stringify({ level, event, ...fields }));
    },
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = { log() {} };

/**
 * A short, non-reversible mention of a secret value for logs: its first characters and its length.
 * Device tokens, nodes and secrets go through this before any log line.
 */
export function redact(value: string | undefined, keep = 6): string | undefined {
  if (value === undefined) return undefined;
  return value.length <= keep ? `…(${value.length})` : `${value.slice(0, keep)}…(${value.length})`;
}
