import fc from "fast-check";
import jsonpatch from "fast-json-patch";
import { describe, expect, it } from "vitest";
import { diffJson, pointerSegment, type JsonValue } from "../../src/webhook/json-patch.js";

// fast-check generates "__proto__" keys on purpose; JSON.parse makes them plain
// own properties, so the applier must be allowed to patch them too.
const apply = (document: unknown, patch: ReturnType<typeof diffJson>): unknown =>
  jsonpatch.applyPatch(structuredClone(document), patch as jsonpatch.Operation[], true, false, false).newDocument;

describe("diffJson", () => {
  it("returns no operation for equal documents", () => {
    expect(diffJson({ a: [1, { b: "c" }] }, { a: [1, { b: "c" }] })).toEqual([]);
  });

  it("inserts an element at the front of a named list as a single add", () => {
    const before = { initContainers: [{ name: "wait-gcs-ready", image: "ray" }] };
    const after = { initContainers: [{ name: "ddcred-agent" }, { name: "wait-gcs-ready", image: "ray" }] };
    expect(diffJson(before, after)).toEqual([{ op: "add", path: "/initContainers/0", value: { name: "ddcred-agent" } }]);
  });

  it("patches a changed element of a named list in place", () => {
    const before = { env: [{ name: "A", value: "1" }, { name: "B", value: "2" }] };
    const after = { env: [{ name: "A", value: "1" }, { name: "B", value: "3" }] };
    expect(diffJson(before, after)).toEqual([{ op: "replace", path: "/env/1/value", value: "3" }]);
  });

  it("tells volume mounts of one volume apart by their path", () => {
    const mount = (mountPath: string) => ({ name: "data", mountPath });
    const before = { volumeMounts: [mount("/a"), mount("/c")] };
    const after = { volumeMounts: [mount("/a"), mount("/b"), mount("/c")] };
    expect(diffJson(before, after)).toEqual([{ op: "add", path: "/volumeMounts/1", value: mount("/b") }]);
  });

  it("escapes / and ~ in keys as JSON Pointer requires", () => {
    expect(pointerSegment("ddcred.io/grant~x")).toBe("ddcred.io~1grant~0x");
    expect(diffJson({ labels: {} }, { labels: { "ddcred.io/grant": "g" } })).toEqual([
      { op: "add", path: "/labels/ddcred.io~1grant", value: "g" },
    ]);
  });

  it("produces a patch that turns any JSON document into any other", () => {
    const named = fc.record({ name: fc.constantFrom("a", "b", "c", "d"), value: fc.jsonValue({ maxDepth: 2 }) });
    const document = fc.letrec<{ node: JsonValue }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<JsonValue>,
        fc.array(fc.oneof(named as fc.Arbitrary<JsonValue>, tie("node")), { maxLength: 5 }),
        fc.dictionary(fc.constantFrom("x", "y", "a/b", "c~d", "name"), tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(document, document, (before, after) => {
        expect(apply(before, diffJson(before, after))).toEqual(after);
      }),
      { numRuns: 500 },
    );
  });
});
