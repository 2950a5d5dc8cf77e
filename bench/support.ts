// Small helpers the benchmarks share.
import { readFileSync } from "node:fs";

/** A process's resident (VmRSS) or peak resident (VmHWM) memory in KiB, from /proc; NaN once it is gone. */
export function memoryKiB(pid: number | undefined, field: "VmRSS" | "VmHWM"): number {
  if (!pid) return Number.NaN;
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}
