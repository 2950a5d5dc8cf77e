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

let lastTime = { ms: NaN, text: "" };

/**
 * pino's isoTime, formatted once a millisecond: a busy webhook logs several
 * lines in one, and formatting the date is a sizeable part of a line's cost.
 */
function isoTime(): string {
  const ms = Date.now();
  if (ms !== lastTime.ms) lastTime = { ms, text: `,"time":"${new Date(ms).toISOString()}"` };
  return lastTime.text;
}

/**
 * A logger for lines whose fields are fixed and never secret (names, counts,
 * reasons): without the redaction, whose wildcard paths cost about 20 µs a
 * line, more than the admission decision the line reports.
 */
export function unredactedChild(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}

/** @param dest file descriptor or path to write to: standard output unless a benchmark says otherwise */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? "info", dest: number | string = 1): Logger {
  // Asynchronous writes: a log line per admission must not cost a write(2)
  // on the admission path. pino flushes what is buffered when the process exits.
  const destination = pino.destination({ dest, sync: false });
  return pino({
    level,
    base: { component },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination);
}
