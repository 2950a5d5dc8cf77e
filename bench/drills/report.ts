// What a drill hands back, and how the suite prints it: per drill a block of
// figures, then one table of every drill. Durations are wall-clock on a
// shared 2-core machine; counts and ratios are what to compare between runs.

export interface DrillReport {
  readonly drill: string;
  /** One line each: what users and consumers saw, what was lost, how long until recovered. */
  readonly saw: string;
  readonly lost: string;
  readonly recovered: string;
  /** Label and value, printed in order. */
  readonly figures: ReadonlyArray<readonly [string, string]>;
  /** Context that explains the figures (emulation, scaling). */
  readonly notes?: readonly string[];
}

export interface DrillRun {
  readonly drill: string;
  readonly seconds: number;
  readonly report?: DrillReport;
  readonly crash?: string;
}

export function printDrill(run: DrillRun): void {
  console.log(`\n=== drill ${run.drill} (${run.seconds.toFixed(0)} s) ===`);
  if (!run.report) {
    console.log(`  CRASHED: ${run.crash ?? "unknown error"}`);
    return;
  }
  const { report } = run;
  const width = Math.max(...report.figures.map(([label]) => label.length), 12);
  for (const [label, value] of report.figures) console.log(`  ${label.padEnd(width)}  ${value}`);
  for (const note of report.notes ?? []) console.log(`  note: ${note}`);
}

export function printSummary(runs: readonly DrillRun[]): void {
  const rows = runs.map((run) =>
    run.report
      ? [run.drill, run.report.saw, run.report.lost, run.report.recovered]
      : [run.drill, `CRASHED: ${firstLine(run.crash)}`, "-", "-"],
  );
  const header = ["drill", "what users saw", "lost", "recovered"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  console.log("\n=== failure drills: summary ===");
  console.log(line(header));
  console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

function firstLine(text: string | undefined): string {
  return (text ?? "unknown error").split("\n")[0]!.slice(0, 120);
}

/** Milliseconds as seconds with one decimal, e.g. "3.4 s". */
export function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "never";
}

/** Counts of each distinct string, largest first, e.g. "12x connection refused; 1x EOF". */
export function tally(items: readonly string[], limit = 4): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const shown = sorted.slice(0, limit).map(([item, count]) => `${count}x ${item}`);
  if (sorted.length > limit) shown.push(`${sorted.length - limit} more kinds`);
  return shown.length === 0 ? "none" : shown.join("; ");
}
