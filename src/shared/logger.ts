// pino JSON logs, one line per event. Anything that could hold a secret is
// redacted by path, so a careless log call cannot leak one.
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

const REDACT_PATHS = [
  "token",
  "*.token",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "accessKeyId",
  "*.accessKeyId",
  "secretAccessKey",
  "*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "credentials",
  "*.credentials",
  "apiKey",
  "*.apiKey",
  "proof",
  "*.proof",
  "privateKey",
  "*.privateKey",
  "tls.key",
];

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  // Asynchronous writes: a log line per admission must not cost a write(2)
  // on the admission path. pino flushes what is buffered when the process exits.
  const destination = pino.destination({ dest: 1, sync: false });
  return pino({
    level,
    base: { component },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination);
}
