// A JSON Patch (RFC 6902) between two JSON documents, small enough to read in
// a golden file. Hand-written because the maintained differs (fast-json-patch's
// compare) diff arrays index by index: putting the agent first among init
// containers would come out as a rewrite of every init container, touching
// fields that are not ours. Here arrays are aligned by element identity
// (a longest common subsequence over names), so an insertion is one "add".

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type JsonPatchOperation =
  | { readonly op: "add"; readonly path: string; readonly value: JsonValue }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "replace"; readonly path: string; readonly value: JsonValue };

/** The operations that turn `before` into `after`, in the order they must be applied. */
export function diffJson(before: unknown, after: unknown): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  diffValue(before as JsonValue, after as JsonValue, "", operations);
  return operations;
}

/** RFC 6901: "~" and "/" are the two characters a pointer segment escapes. */
export function pointerSegment(key: string | number): string {
  const text = String(key);
  return text.includes("~") || text.includes("/") ? text.replaceAll("~", "~0").replaceAll("/", "~1") : text;
}

function diffValue(before: JsonValue, after: JsonValue, path: string, out: JsonPatchOperation[]): void {
  if (before === after || jsonEqual(before, after)) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    diffArray(before, after, path, out);
  } else if (isObject(before) && isObject(after)) {
    diffObject(before, after, path, out);
  } else {
    out.push({ op: "replace", path, value: after });
  }
}

function diffObject(
  before: { [key: string]: JsonValue },
  after: { [key: string]: JsonValue },
  path: string,
  out: JsonPatchOperation[],
): void {
  for (const key in before) {
    if (!Object.hasOwn(after, key)) out.push({ op: "remove", path: `${path}/${pointerSegment(key)}` });
  }
  for (const key in after) {
    const value = after[key] as JsonValue;
    if (!Object.hasOwn(before, key)) out.push({ op: "add", path: `${path}/${pointerSegment(key)}`, value });
    // Subtrees the mutation did not replace are the very same objects: skip them unwalked.
    else if (before[key] !== value) diffValue(before[key] as JsonValue, value, `${path}/${pointerSegment(key)}`, out);
  }
}

/**
 * Walks an alignment of the two arrays, keeping `index` as the position in
 * the array as the operations so far have left it: a removal does not move
 * it, an insertion or a kept element does.
 */
function diffArray(before: JsonValue[], after: JsonValue[], path: string, out: JsonPatchOperation[]): void {
  let index = 0;
  for (const step of alignArrays(before, after)) {
    if (step.kind === "remove") {
      out.push({ op: "remove", path: `${path}/${index}` });
      continue;
    }
    if (step.kind === "add") out.push({ op: "add", path: `${path}/${index}`, value: step.value });
    else diffValue(step.before, step.after, `${path}/${index}`, out);
    index += 1;
  }
}

type AlignmentStep =
  | { readonly kind: "keep"; readonly before: JsonValue; readonly after: JsonValue }
  | { readonly kind: "remove" }
  | { readonly kind: "add"; readonly value: JsonValue };

/**
 * Longest common subsequence by identity, after setting aside the common
 * head and tail (appends and a front insertion leave little in between).
 */
function alignArrays(before: JsonValue[], after: JsonValue[]): AlignmentStep[] {
  // Identities are computed only for elements that are not the very same object.
  const a: (string | undefined)[] = new Array(before.length);
  const b: (string | undefined)[] = new Array(after.length);
  const same = (i: number, j: number): boolean =>
    before[i] === after[j] || (a[i] ??= identity(before[i] as JsonValue)) === (b[j] ??= identity(after[j] as JsonValue));
  const steps: AlignmentStep[] = [];
  let head = 0;
  while (head < a.length && head < b.length && same(head, head)) {
    steps.push({ kind: "keep", before: before[head] as JsonValue, after: after[head] as JsonValue });
    head += 1;
  }
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && same(a.length - 1 - tail, b.length - 1 - tail)) tail += 1;
  const endA = a.length - tail;
  const endB = b.length - tail;
  // lengths[i][j]: LCS length of a[i..endA) and b[j..endB).
  const lengths: number[][] = Array.from({ length: endA - head + 1 }, () => new Array<number>(endB - head + 1).fill(0));
  const at = (i: number, j: number): number => (lengths[i - head] as number[])[j - head] as number;
  for (let i = endA - 1; i >= head; i--) {
    const row = lengths[i - head] as number[];
    for (let j = endB - 1; j >= head; j--) {
      row[j - head] = same(i, j) ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  let i = head;
  let j = head;
  while (i < endA || j < endB) {
    if (i < endA && j < endB && same(i, j)) {
      steps.push({ kind: "keep", before: before[i] as JsonValue, after: after[j] as JsonValue });
      i += 1;
      j += 1;
    } else if (i < endA && (j === endB || at(i + 1, j) >= at(i, j + 1))) {
      steps.push({ kind: "remove" });
      i += 1;
    } else {
      steps.push({ kind: "add", value: after[j] as JsonValue });
      j += 1;
    }
  }
  for (let k = 0; k < tail; k++) {
    steps.push({ kind: "keep", before: before[endA + k] as JsonValue, after: after[endB + k] as JsonValue });
  }
  return steps;
}

/**
 * What makes two array elements "the same element": containers, volumes and
 * env vars by name; volume mounts by name and path; anything else by value.
 */
function identity(value: JsonValue): string {
  if (isObject(value) && typeof value.name === "string") {
    return typeof value.mountPath === "string" ? `mount:${value.name}\u0000${value.mountPath}` : `name:${value.name}`;
  }
  return `value:${canonicalJson(value)}`;
}

function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  }
  if (isObject(a) && isObject(b)) {
    let count = 0;
    for (const key in a) {
      if (!Object.hasOwn(b, key) || !jsonEqual(a[key], b[key])) return false;
      count += 1;
    }
    for (const _ in b) count -= 1;
    return count === 0;
  }
  return false;
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
