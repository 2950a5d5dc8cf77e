// A JSON Patch (RFC 6902) between two JSON documents, small enough to read in
// a golden file. Hand-written because the maintained differs (fast-json-patch's
// compare) diff arrays index by index: putting the agent first among init
// containers would come out as a rewrite of every init container, touching
// fields that are not ours. Here arrays are aligned by element identity, so an
// insertion is one "add".
//
// Pod lists are attacker-sized (thousands of env vars fit in the 3 MiB the
// API server accepts), so the alignment is linear: a common head and tail,
// then one pass that keeps, removes or adds, which is exact for what the
// mutation does (it appends, prepends and filters). Anything else (elements
// reordered, so that no single pass can tell what moved) is answered with one
// "replace" of the whole list: larger, never wrong, never quadratic.

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
  if (before === after) return;
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
  const steps = alignArrays(before, after);
  if (steps === undefined) {
    out.push({ op: "replace", path, value: after });
    return;
  }
  let index = 0;
  for (const step of steps) {
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
 * One pass over both arrays, in time linear in their sizes: an element the
 * other array no longer has ahead is removed, then one the other array does
 * not have ahead is added, one both have is kept. When the next elements of both
 * still occur ahead in the other (a reordering), there is no alignment a
 * single pass can trust: undefined, and the caller replaces the whole list.
 */
function alignArrays(before: JsonValue[], after: JsonValue[]): AlignmentStep[] | undefined {
  // Identities are computed only for elements that are not the very same object.
  const a: (string | undefined)[] = new Array(before.length);
  const b: (string | undefined)[] = new Array(after.length);
  const idA = (i: number): string => (a[i] ??= identity(before[i] as JsonValue));
  const idB = (j: number): string => (b[j] ??= identity(after[j] as JsonValue));
  const same = (i: number, j: number): boolean => before[i] === after[j] || idA(i) === idB(j);
  const steps: AlignmentStep[] = [];
  const keep = (i: number, j: number) => steps.push({ kind: "keep", before: before[i] as JsonValue, after: after[j] as JsonValue });
  let head = 0;
  while (head < before.length && head < after.length && same(head, head)) keep(head, head++);
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && same(before.length - 1 - tail, after.length - 1 - tail)) tail += 1;
  const endA = before.length - tail;
  const endB = after.length - tail;
  // How many elements of each identity each array still has ahead of the pass.
  const aheadInBefore = countIdentities(head, endA, idA);
  const aheadInAfter = countIdentities(head, endB, idB);
  const pass = (counts: Map<string, number>, id: string) => counts.set(id, (counts.get(id) as number) - 1);
  let i = head;
  let j = head;
  while (i < endA || j < endB) {
    if (i < endA && j < endB && same(i, j)) {
      pass(aheadInBefore, idA(i));
      pass(aheadInAfter, idB(j));
      keep(i++, j++);
    } else if (i < endA && !(aheadInAfter.get(idA(i)) ?? 0)) {
      pass(aheadInBefore, idA(i++));
      steps.push({ kind: "remove" });
    } else if (j < endB && !(aheadInBefore.get(idB(j)) ?? 0)) {
      pass(aheadInAfter, idB(j));
      steps.push({ kind: "add", value: after[j++] as JsonValue });
    } else {
      return undefined;
    }
  }
  for (let k = 0; k < tail; k++) keep(endA + k, endB + k);
  return steps;
}

function countIdentities(from: number, to: number, id: (index: number) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = from; k < to; k++) counts.set(id(k), (counts.get(id(k)) ?? 0) + 1);
  return counts;
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
