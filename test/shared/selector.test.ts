import { describe, expect, it } from "vitest";
import { formatSelector, selectorMatches, selectorProblems } from "../../src/shared/selector.js";

describe("selectorMatches", () => {
  const labels = { app: "ray", "ray.io/node-type": "worker", team: "" };

  it("matches every pod with an empty selector", () => {
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({}, undefined)).toBe(true);
  });

  it("requires every matchLabels entry", () => {
    expect(selectorMatches({ matchLabels: { app: "ray", "ray.io/node-type": "worker" } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: "ray", "ray.io/node-type": "head" } }, labels)).toBe(false);
  });

  it.each([
    [{ key: "ray.io/node-type", operator: "In", values: ["head", "worker"] }, true],
    [{ key: "ray.io/node-type", operator: "In", values: ["head"] }, false],
    [{ key: "missing", operator: "In", values: ["x"] }, false],
    [{ key: "ray.io/node-type", operator: "NotIn", values: ["head"] }, true],
    [{ key: "ray.io/node-type", operator: "NotIn", values: ["worker"] }, false],
    [{ key: "missing", operator: "NotIn", values: ["x"] }, true],
    [{ key: "team", operator: "Exists" }, true],
    [{ key: "missing", operator: "Exists" }, false],
    [{ key: "missing", operator: "DoesNotExist" }, true],
    [{ key: "app", operator: "DoesNotExist" }, false],
  ] as const)("evaluates %j as %s", (expression, expected) => {
    expect(selectorMatches({ matchExpressions: [expression as never] }, labels)).toBe(expected);
  });

  it("formats selectors the way kubectl prints them", () => {
    expect(formatSelector({})).toBe("<every pod>");
    expect(
      formatSelector({ matchLabels: { app: "ray" }, matchExpressions: [{ key: "tier", operator: "In", values: ["a", "b"] }, { key: "x", operator: "DoesNotExist" }] }),
    ).toBe("app=ray,tier in (a,b),!x");
  });
});

describe("selectorProblems", () => {
  it("accepts qualified keys and valid values", () => {
    expect(selectorProblems({ matchLabels: { "ray.io/cluster": "raycluster-kuberay", app: "" } })).toEqual([]);
  });

  it("names the field and the bad key or value", () => {
    const problems = selectorProblems({
      matchLabels: { "bad key": "x", ok: "not ok!" },
      matchExpressions: [{ key: "Example.COM/x", operator: "Exists" }],
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^spec\.podSelector\.matchLabels: label key "bad key"/);
    expect(problems[1]).toMatch(/label value "not ok!"/);
    expect(problems[2]).toMatch(/^spec\.podSelector\.matchExpressions\[0\]: .*prefix/);
  });
});
