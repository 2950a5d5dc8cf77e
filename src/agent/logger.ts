// JSON logs, one line per event. Nothing secret is ever logged on purpose;
// redact is the safety net for a field that slips in by mistake.
import { pino, type Logger } from "pino";

export type { Logger };

const SECRET_FIELDS = [
  "token",
  "secret",
  "apiKey",
  "proof",
  "authorization",
  "secretAccessKey",
  "sessionToken",
  "SecretAccessKey",
  "SessionToken",
  "Token",
];

export function createLogger(level: string, bindings: Record<string, string> = {}): Logger {
  return pino({
    level,
    base: { component: "ddcred-agent", ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((field) => `*.${field}`)], censor: "[redacted]" },
  });
}
