// How both demos talk: numbered steps with the time since the start and why
// each one matters, then what a user would see, indented under it.
const started = Date.now();

export const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
export const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

let stepNumber = 0;

export function step(title: string, ...why: string[]): void {
  stepNumber += 1;
  console.log(`\n${bold(`── ${stepNumber}. ${title}`)} ${dim(`(${secondsSinceStart()} s)`)}`);
  for (const line of why) console.log(`   ${line}`);
}

export function show(text: string): void {
  console.log(text.replace(/\n$/, "").replace(/^/gm, "   │ "));
}

export function secondsSinceStart(): string {
  return ((Date.now() - started) / 1000).toFixed(1);
}
