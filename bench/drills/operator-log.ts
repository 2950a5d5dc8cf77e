// Reading an operator's JSON log (pino, one line per event) for the drills:
// cheap local signals, so the drills do not load the API server to find out
// what the operator is doing.

/** How many lines carry this message. */
export function countLogLines(log: string, message: string): number {
  let count = 0;
  const needle = `"msg":"${message}"`;
  for (let at = log.indexOf(needle); at >= 0; at = log.indexOf(needle, at + needle.length)) count += 1;
  return count;
}

/** Wall-clock time (ms) of the first line with this message at or after `since`; NaN if none. */
export function logTimeOf(log: string, message: string, since: number): number {
  for (const line of log.split("\n")) {
    if (!line.includes(`"msg":"${message}"`)) continue;
    const time = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? "");
    if (time >= since) return time;
  }
  return Number.NaN;
}

/** A process's log so far; empty while the log file is still being opened. */
export function logSoFar(process: { log(): string }): string {
  try {
    return process.log();
  } catch {
    return "";
  }
}

/** Wall-clock times (ms) of every line with this message. */
export function logTimes(log: string, message: string): number[] {
  return log
    .split("\n")
    .filter((line) => line.includes(`"msg":"${message}"`))
    .map((line) => Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? ""));
}

/** Events per second over the span they cover, or NaN with fewer than two. */
export function ratePerSecond(times: readonly number[]): number {
  if (times.length < 2) return Number.NaN;
  return (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
}
